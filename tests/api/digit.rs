//! eGov DIGIT's shapes over real HTTP: egov-otp's `_create`, `_validate` and `_search` and
//! user-otp's `_send`, replaying the requests of DIGIT's own test fixtures and Postman
//! collection (`fixtures/digit/`, see its SOURCES.md) and comparing the answers with DIGIT's
//! expected ones the way DIGIT's tests compare them (JSONAssert's lenient mode). Codes are
//! read from the dev outbox.

use std::collections::HashSet;
use std::time::Duration;

use colloquy::config::Config;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, test_config};
use crate::otp_service::{KEY_A, KEY_B, post, post_text, post_with, two_clients, wrong};

/// A fixture of `fixtures/digit/`, parsed.
fn fixture(path: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/fixtures/digit")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// JSONAssert's lenient comparison (what Spring's `content().json(…)` does): an expected
/// object's keys are all present with equal values, more keys are allowed; arrays hold the
/// same elements in any order.
fn lenient(expected: &Value, actual: &Value) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let Some(found) = got.get(key) else {
                    return Err(format!("missing `{key}`"));
                };
                lenient(value, found).map_err(|e| format!("{key}: {e}"))?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Err(format!(
                    "{} elements expected, {} found",
                    want.len(),
                    got.len()
                ));
            }
            let mut unused: Vec<&Value> = got.iter().collect();
            for element in want {
                let Some(at) = unused.iter().position(|g| lenient(element, g).is_ok()) else {
                    return Err(format!("no element like {element}"));
                };
                unused.remove(at);
            }
            Ok(())
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("expected {a}, found {b}")),
    }
}

#[track_caller]
fn assert_lenient(expected: &Value, actual: &Value) {
    if let Err(why) = lenient(expected, actual) {
        panic!("{why}\nexpected {expected:#}\nfound {actual:#}");
    }
}

/// The DIGIT routes on, numbers read as Indian, as DIGIT's are.
fn digit_config() -> Config {
    let mut config = test_config();
    config.otp_api.digit = true;
    config.dialogs.phone_region = Some("IN".to_owned());
    config
}

fn field_codes(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The newest text to `number` (E.164), read over HTTP from `GET /v1/dev/outbox`.
async fn last_text(app: &TestApp, number: &str) -> String {
    let to = number.replace('+', "%2B");
    let outbox = app.get_json(&format!("/v1/dev/outbox?to={to}")).await;
    let last = outbox["emails"]
        .as_array()
        .and_then(|messages| messages.last())
        .unwrap_or_else(|| panic!("no text to {number}: {outbox}"));
    assert_eq!(last["channel"], "sms", "{last}");
    last["text"].as_str().unwrap().to_owned()
}

/// The code in a text: its run of `otp.length` digits.
fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 4)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

/// `value` with every string equal to `from` replaced by `to` (a fixture's placeholders).
fn replace(value: &Value, from: &str, to: &Value) -> Value {
    match value {
        Value::String(s) if s == from => to.clone(),
        Value::Array(items) => Value::Array(items.iter().map(|v| replace(v, from, to)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace(v, from, to)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test]
async fn egov_otp_request_errors_are_its_fixtures() {
    let app = spawn_app_with(digit_config()).await;
    for (path, request, expected) in [
        (
            "/otp/v1/_create",
            "egov-otp/invalidOtpRequest.json",
            "egov-otp/invalidOtpResponse.json",
        ),
        (
            "/otp/v1/_validate",
            "egov-otp/invalidOtpValidationRequest.json",
            "egov-otp/errorOtpValidationResponse.json",
        ),
        (
            "/otp/v1/_search",
            "egov-otp/invalidOtpSearchRequest.json",
            "egov-otp/invalidOtpSearchResponse.json",
        ),
        // A well-formed request for a code nobody created.
        (
            "/otp/v1/_validate",
            "egov-otp/validateOtpRequest.json",
            "egov-otp/otpValidateFailureErrorResponse.json",
        ),
    ] {
        let answer = post(&app, path, &fixture(request)).await;
        assert_eq!(answer.status, 400, "{request}: {}", answer.body);
        assert_lenient(&fixture(expected), &answer.body);
    }
    assert_eq!(app.outbox().list(None).len(), 0);
}

#[tokio::test]
async fn search_for_an_unknown_uuid_is_200_with_no_otp() {
    let app = spawn_app_with(digit_config()).await;
    // DIGIT's own search fixture (`uuid` written in lower case, as its test sends it).
    let answer = post(
        &app,
        "/otp/v1/_search",
        &fixture("egov-otp/otpSearchRequest.json"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({ "responseInfo": null, "otp": null }));
    let made_up =
        json!({ "otp": { "UUID": "2b936aae-c3b6-4c89-b3b3-a098cdcbb706", "tenantId": "pb" } });
    let answer = post(&app, "/otp/v1/_search", &made_up).await;
    assert_eq!(answer.body, json!({ "responseInfo": null, "otp": null }));
}

/// The Postman collection's `_create` (to a mobile number instead of a user name: the code
/// goes there) and `_validate`, at the collection's tenant `ap.public`.
#[tokio::test]
async fn the_postman_collection_creates_and_validates_a_code() {
    let app = spawn_app_with(digit_config()).await;
    let collection = fixture("egov-otp/postman-core-otp.json");
    let body = |name: &str| -> Value {
        let item = collection["item"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| {
                let url = &item["request"]["url"];
                url.as_str()
                    .or_else(|| url["raw"].as_str())
                    .is_some_and(|url| url.ends_with(name))
            })
            .unwrap_or_else(|| panic!("{name} in the collection"));
        serde_json::from_str(item["request"]["body"]["raw"].as_str().unwrap()).unwrap()
    };
    let mut create = body("/otp/v1/_create");
    create["otp"]["identity"] = json!("9880141280");
    let created = post(&app, "/otp/v1/_create", &create).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let uuid = created.body["otp"]["UUID"].as_str().unwrap().to_owned();
    let mut expected = fixture("egov-otp/createOtpResponse.json");
    // egov-otp keeps codes under the state-level tenant, and this server never returns one.
    expected = replace(&expected, "randomNumber", &Value::Null);
    expected = replace(&expected, "uuid", &json!(uuid));
    expected = replace(&expected, "identity", &json!("9880141280"));
    expected = replace(&expected, "tenantId", &json!("ap"));
    assert_lenient(&expected, &created.body);
    assert_eq!(created.body["otp"]["otp"], Value::Null);

    let code = code_in(&last_text(&app, "+919880141280").await);
    let mut validate = body("/otp/v1/_validate");
    assert_eq!(validate["otp"]["identity"], "9880141280");
    validate["otp"]["otp"] = json!(code);
    let validated = post(&app, "/otp/v1/_validate", &validate).await;
    assert_eq!(validated.status, 200, "{}", validated.body);
    let mut expected = fixture("egov-otp/successOtpValidationResponse.json");
    expected = replace(&expected, "otpNumber", &json!(code));
    expected = replace(&expected, "uuid", &json!(uuid));
    expected = replace(&expected, "identity", &json!("9880141280"));
    expected = replace(&expected, "tenantId", &json!("ap"));
    assert_lenient(&expected, &validated.body);
    // The code is single use.
    let again = post(&app, "/otp/v1/_validate", &validate).await;
    assert_lenient(
        &fixture("egov-otp/otpValidateFailureErrorResponse.json"),
        &again.body,
    );
}

/// DIGIT's citizen flow: user-otp `_send` at city level (`pb.amritsar`), egov-user's
/// `_validate` at state level (`pb`), then egov-user's `_search` by the code's reference,
/// which must give back the mobile number exactly as sent (egov-user compares them).
#[tokio::test]
async fn the_citizen_flow_sends_in_a_city_and_validates_in_the_state() {
    let app = spawn_app_with(digit_config()).await;
    let mut request = fixture("user-otp/otpSendLoginRequest.json");
    request["otp"]["mobileNumber"] = json!("9988776655");
    request["otp"]["tenantId"] = json!("pb.amritsar");
    let sent = post(&app, "/user-otp/v1/_send", &request).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert_eq!(sent.body, fixture("user-otp/otpSendSuccessResponse.json"));
    let text = last_text(&app, "+919988776655").await;
    let code = code_in(&text);
    assert_eq!(text, format!("Dear Citizen, Your Login OTP is {code}."));

    let mut validate = fixture("egov-user/otpValidationRequest.json");
    validate["otp"]["otp"] = json!(wrong(&code));
    validate["otp"]["tenantId"] = json!("pb");
    let refused = post(&app, "/otp/v1/_validate", &validate).await;
    assert_lenient(
        &fixture("egov-otp/otpValidateFailureErrorResponse.json"),
        &refused.body,
    );
    validate["otp"]["otp"] = json!(code);
    let validated = post(&app, "/otp/v1/_validate", &validate).await;
    assert_eq!(validated.status, 200, "{}", validated.body);
    let otp = &validated.body["otp"];
    assert_eq!(otp["otp"], code.as_str(), "the code is echoed for user-otp");
    assert_eq!(otp["isValidationSuccessful"], true);
    assert_eq!(otp["tenantId"], "pb");
    let uuid = otp["UUID"].as_str().unwrap().to_owned();

    // egov-user's search request names the tenant it has at hand; the UUID finds the code.
    let mut search = fixture("egov-user/otpSearchSuccessRequest.json");
    search["otp"]["UUID"] = json!(uuid);
    let found = post(&app, "/otp/v1/_search", &search).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let mut expected = fixture("egov-user/otpSearchValidatedResponse.json");
    expected = replace(
        &expected,
        "2b936aae-c3b6-4c89-b3b3-a098cdcbb706",
        &json!(uuid),
    );
    expected = replace(&expected, "ap.hyd", &json!("pb"));
    expected = replace(&expected, "1234", &Value::Null);
    // (The fixture's `ResponseInfo: {}` is an egov-user mock's; egov-otp answers null.)
    expected.as_object_mut().unwrap().remove("ResponseInfo");
    assert_lenient(&expected, &found.body);
    assert_eq!(found.body["otp"]["identity"], "9988776655");
}

#[tokio::test]
async fn a_code_created_in_one_city_validates_in_another_city_of_its_state() {
    let app = spawn_app_with(digit_config()).await;
    let created = post(
        &app,
        "/otp/v1/_create",
        &json!({ "RequestInfo": {}, "otp": { "identity": "Mia@example.com", "tenantId": "pb.amritsar" } }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["otp"]["tenantId"], "pb");
    assert_eq!(created.body["otp"]["identity"], "Mia@example.com");
    let code = app.last_code("Mia@example.com").await;
    assert!(!created.body.to_string().contains(&code));
    let validate = |tenant: &str| json!({ "otp": { "otp": code, "identity": "mia@example.com", "tenantId": tenant } });
    let other_state = post(&app, "/otp/v1/_validate", &validate("hr.panipat")).await;
    assert_eq!(
        field_codes(&other_state.body),
        ["OTP.VALIDATION_UNSUCCESSFUL"]
    );
    let validated = post(&app, "/otp/v1/_validate", &validate("pb.jalandhar")).await;
    assert_eq!(validated.status, 200, "{}", validated.body);
    assert_eq!(validated.body["otp"]["otp"], code.as_str());
}

#[tokio::test]
async fn uuids_are_v4_and_say_nothing_of_whose_code_it_is() {
    let app = spawn_app_with(digit_config()).await;
    let mut uuids = Vec::new();
    for _ in 0..4 {
        let created = post(
            &app,
            "/otp/v1/_create",
            &json!({ "otp": { "identity": "9880141280", "tenantId": "pb" } }),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        uuids.push(created.body["otp"]["UUID"].as_str().unwrap().to_owned());
        app.advance(Duration::from_secs(31));
    }
    for uuid in &uuids {
        assert_eq!(uuid.len(), 36, "{uuid}");
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
        assert!(uuid.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
    }
    // Codes of one person share no prefix: no part of an id is derived from the person.
    let heads: HashSet<&str> = uuids.iter().map(|u| &u[..4]).collect();
    assert_eq!(heads.len(), uuids.len(), "{uuids:?}");
    // Only the newest is current; the older ones find nothing.
    let search = |uuid: &str| json!({ "otp": { "UUID": uuid, "tenantId": "pb" } });
    let newest = post(&app, "/otp/v1/_search", &search(&uuids[3])).await;
    assert_eq!(newest.body["otp"]["UUID"], uuids[3].as_str());
    let older = post(&app, "/otp/v1/_search", &search(&uuids[0])).await;
    assert_eq!(older.body["otp"], Value::Null);
}

#[tokio::test]
async fn another_clients_uuid_finds_nothing() {
    let mut config = two_clients();
    config.otp_api.digit = true;
    config.dialogs.phone_region = Some("IN".to_owned());
    let app = spawn_app_with(config).await;
    let created = post_with(
        &app,
        "/otp/v1/_create",
        &json!({ "otp": { "identity": "9880141280", "tenantId": "pb" } }),
        Some(KEY_A),
    )
    .await;
    let uuid = created.body["otp"]["UUID"].as_str().unwrap().to_owned();
    let search = json!({ "otp": { "UUID": uuid, "tenantId": "pb" } });
    let by_b = post_with(&app, "/otp/v1/_search", &search, Some(KEY_B)).await;
    assert_eq!(by_b.body["otp"], Value::Null);
    let by_a = post_with(&app, "/otp/v1/_search", &search, Some(KEY_A)).await;
    assert_eq!(by_a.body["otp"]["identity"], "9880141280");
}

#[tokio::test]
async fn user_otp_request_errors_are_its_fixtures() {
    let app = spawn_app_with(digit_config()).await;
    let answer = post(
        &app,
        "/user-otp/v1/_send",
        &fixture("user-otp/otpRequestWithoutMandatoryFields.json"),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_lenient(
        &fixture("user-otp/otpMandatoryFieldsErrorResponse.json"),
        &answer.body,
    );
    // An unknown type, and a "number" of letters.
    let answer = post(
        &app,
        "/user-otp/v1/_send",
        &fixture("user-otp/invalidOtpSendRequest.json"),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["error"]["message"], "Invalid OTP request");
    assert_eq!(
        field_codes(&answer.body),
        [
            "OTP.REQUEST_TYPE_MANDATORY",
            "OTP.MOBILE_NUMBER_INVALID",
            "OTP.MOBILE_NUMBER_INVALIDLENGTH"
        ]
    );
    // Ten digits, but no Indian number.
    let mut login = fixture("user-otp/otpSendLoginRequest.json");
    login["otp"]["mobileNumber"] = json!("0000000000");
    let answer = post(&app, "/user-otp/v1/_send", &login).await;
    assert_eq!(
        field_codes(&answer.body),
        ["OTP.MOBILE_NUMBER_VALIDATION_FAILED"]
    );
    assert_eq!(
        answer.body["error"]["fields"][0]["field"],
        "otp.mobileNumber"
    );
    assert_eq!(app.outbox().list(None).len(), 0, "nothing was sent");
}

#[tokio::test]
async fn each_type_has_its_message_and_locales_come_from_the_message_id() {
    let mut config = digit_config();
    config.otp_api.digit_messages.insert(
        "hi_IN".to_owned(),
        [(
            "sms.login.otp.msg".to_owned(),
            "आपका लॉगिन ओटीपी %s है".to_owned(),
        )]
        .into(),
    );
    let app = spawn_app_with(config).await;
    let cases = [
        (
            "user-otp/otpSendRegisterRequest.json",
            "9988776601",
            "Dear Citizen, Your OTP to complete your DIGIT Registration is ",
        ),
        (
            "user-otp/otpSendRequest.json",
            "9988776602",
            "Dear Citizen, Your OTP for recovering password is ",
        ),
        (
            "user-otp/otpSendLoginRequest.json",
            "9988776603",
            "Dear Citizen, Your Login OTP is ",
        ),
    ];
    for (request, number, words) in cases {
        let mut body = fixture(request);
        body["otp"]["mobileNumber"] = json!(number);
        let sent = post(&app, "/user-otp/v1/_send", &body).await;
        assert_eq!(sent.status, 201, "{request}: {}", sent.body);
        let text = last_text(&app, &format!("+91{number}")).await;
        assert!(text.starts_with(words), "{text}");
    }
    let mut hindi = fixture("user-otp/otpSendLoginRequest.json");
    hindi["RequestInfo"] = json!({ "msgId": "20170310130900|hi_IN" });
    hindi["otp"]["mobileNumber"] = json!("9988776604");
    hindi["otp"]["type"] = json!("LOGIN");
    assert_eq!(post(&app, "/user-otp/v1/_send", &hindi).await.status, 201);
    let text = last_text(&app, "+919988776604").await;
    assert!(
        text.starts_with("आपका लॉगिन ओटीपी ") && text.ends_with(" है"),
        "{text}"
    );
    // The code texted validates through egov-otp with the number as the identity.
    let code = code_in(&text);
    let validated = post(
        &app,
        "/otp/v1/_validate",
        &json!({ "otp": { "otp": code, "identity": "9988776604", "tenantId": "tenantId" } }),
    )
    .await;
    assert_eq!(validated.status, 200, "{}", validated.body);
}

#[tokio::test]
async fn other_failures_use_its_envelope() {
    let mut config = digit_config();
    config
        .email
        .outbox
        .fail_for
        .push("+919988776699".to_owned());
    let app = spawn_app_with(config).await;
    let broken = post_text(&app, "/otp/v1/_create", "{\"otp\": ").await;
    assert_eq!(broken.status, 400);
    assert_eq!(broken.body["error"]["code"], 400);
    assert_eq!(field_codes(&broken.body), ["invalid_json"]);

    let create = |identity: &str| json!({ "otp": { "identity": identity, "tenantId": "pb" } });
    let failed = post(&app, "/otp/v1/_create", &create("ned@bounce.test")).await;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.body["error"]["code"], 502);
    assert_eq!(field_codes(&failed.body), ["delivery_failed"]);
    let send =
        json!({ "otp": { "mobileNumber": "9988776699", "tenantId": "pb", "type": "login" } });
    let failed = post(&app, "/user-otp/v1/_send", &send).await;
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert_eq!(field_codes(&failed.body), ["delivery_failed"]);

    assert_eq!(
        post(&app, "/otp/v1/_create", &create("ned@example.com"))
            .await
            .status,
        201
    );
    let soon = post(&app, "/otp/v1/_create", &create("ned@example.com")).await;
    assert_eq!(soon.status, 429);
    assert_eq!(soon.retry_after, Some(30));
    assert_eq!(field_codes(&soon.body), ["otp_cooldown"]);

    let nobody = post(&app, "/otp/v1/_create", &create("userid")).await;
    assert_eq!(nobody.status, 400);
    assert_eq!(nobody.body["error"]["message"], "Invalid OTP request");
    assert_eq!(field_codes(&nobody.body), ["OTP.IDENTITY_INVALID"]);
}
