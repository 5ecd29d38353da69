# The texts of otp_authentication.yaml whose English depends on a number: Fluent picks the
# plural form ("1 minute", "5 minutes"). The others are the YAML's own.

ask_code = I've emailed a { $otp_length }-digit code to { $email }. It expires in { $otp_expires_in_minutes ->
    [one] 1 minute
   *[other] { $otp_expires_in_minutes } minutes
}. Enter it here, or type 'resend' for a new one, 'change email' to use another address, or 'cancel' to stop.

code_expired = That code has expired (codes last { $otp_expires_in_minutes ->
    [one] 1 minute
   *[other] { $otp_expires_in_minutes } minutes
}). Shall I send you a new one? (yes/no)

wait_to_resend = I just sent you a code. Please wait { $otp_retry_after_seconds ->
    [one] 1 second
   *[other] { $otp_retry_after_seconds } seconds
} before asking for another one. You can enter the code you have, or type 'resend' in a moment.

too_many_sends = Too many codes have been sent to this address recently. Please try again in { $otp_retry_after_minutes ->
    [one] 1 minute
   *[other] { $otp_retry_after_minutes } minutes
}.

otp_email-text =
    Your verification code is { $code }.

    It expires in { $expires_in_minutes ->
        [one] 1 minute
       *[other] { $expires_in_minutes } minutes
    }. If you didn't ask for it, you can ignore this email.

locked_for_now = There have been too many wrong codes for this address today, so I've stopped checking codes for it. Please try again in { $otp_retry_after_minutes ->
    [one] 1 minute
   *[other] { $otp_retry_after_minutes } minutes
}.
