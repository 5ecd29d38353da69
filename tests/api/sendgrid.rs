//! SendGrid delivery against a faithful mock on 127.0.0.1.
