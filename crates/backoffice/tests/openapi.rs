//! The OpenAPI document (`docs/openapi.json`, served at `/api/openapi.json`)
//! against the real server: it is well formed, every route is documented and
//! answers, and real messages of the Rust wire types validate against its
//! schemas (with the small validator below: types, required and unknown
//! properties, enums, consts, bounds, patterns, `oneOf` by discriminator).
//! The validator is stricter than JSON Schema on one point: a property an
//! object schema does not name is an error, so a renamed optional field is
//! caught although the document leaves objects open (as serde does).

mod common;

use std::collections::BTreeSet;

use common::*;
use pos_domain::{
    CategoryId, CustomerId, ExpenseId, LedgerEntryId, MovementId, MovementKind, PaymentMethod,
    ProductId, Quantity, TaxCode, TimeZone, TransferId,
};
use serde_json::{Value, json};
use sync_protocol::{
    CategoryPatch, CustomerPatch, ErrorBody, ErrorCode, ErrorDetail, ExpensePaidWith, ExpensePatch,
    LedgerEntryRecord, LedgerKind, OpBody, OpOutcome, OpResult, PullResponse, PushRequest,
    PushResponse, RejectCode, SettingsPatch, StatusResponse, StockMovementRecord, TaxRateRecord,
    Tombstone, TransferLine, TransferSentRecord,
};

/// Every (method, path) the router serves. Keep in step with `router()` in
/// `src/lib.rs`; `the_route_list_matches_the_router_source` checks it does.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/status"),
    ("GET", "/api/device"),
    ("POST", "/api/sync"),
    ("GET", "/api/sync"),
    ("POST", "/api/sync/full"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/products"),
    ("POST", "/api/transaction"),
    ("GET", "/api/customers/{id}/history"),
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn document() -> Value {
    serde_json::from_str(backoffice::openapi::DOCUMENT).unwrap()
}

/// Every `(METHOD, path, operation)` in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

fn pending(op: &Value) -> bool {
    op.get("x-whiz-pending") == Some(&Value::Bool(true))
}

/// Resolves a local `$ref` (`#/a/b`) in `doc`.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "$ref" {
                    out.push(x.as_str().unwrap_or("<not a string>").to_string());
                } else if k == "mapping" {
                    for target in x.as_object().into_iter().flat_map(|m| m.values()) {
                        out.push(target.as_str().unwrap_or("<not a string>").to_string());
                    }
                } else {
                    collect_refs(x, out);
                }
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

// The validator ---------------------------------------------------------------

/// Checks `value` against `schema` (a subset of JSON Schema 2020-12, enough
/// for this document); pushes one line per problem onto `errors`.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        match resolve(doc, r) {
            Some(target) => validate(doc, target, value, at, errors),
            None => errors.push(format!("{at}: unresolved $ref {r}")),
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} is not {c}"));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {e:?}"));
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.iter().any(|t| has_type(value, t)) {
            errors.push(format!("{at}: {value} is not of type {t}"));
            return;
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {n} < minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {n} > maximum {max}"));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
            || schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| len > m)
        {
            errors.push(format!("{at}: {s:?} has the wrong length"));
        }
        if let Some(p) = schema.get("pattern").and_then(Value::as_str)
            && !pattern_matches(p, s)
        {
            errors.push(format!("{at}: {s:?} does not match {p}"));
        }
    }
    if let Some(obj) = value.as_object() {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap_or_default();
            if !obj.contains_key(req) {
                errors.push(format!("{at}: missing required property {req:?}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(doc, s, v, &format!("{at}.{k}"), errors),
                // Strict where the document is open (serde ignores unknown
                // fields, so the document does not forbid them): a field
                // the schema does not name is a renamed or undocumented one.
                None if props.is_some() || schema.get("required").is_some() => {
                    errors.push(format!("{at}: property {k:?} is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let Some(xs) = value.as_array() {
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && xs.len() as u64 > max
        {
            errors.push(format!("{at}: more than {max} items"));
        }
        if let Some(items) = schema.get("items") {
            for (i, x) in xs.iter().enumerate() {
                validate(doc, items, x, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate(doc, s, value, at, errors);
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        if let Some(d) = schema.get("discriminator") {
            let prop = d["propertyName"].as_str().unwrap_or_default();
            let tag = value.get(prop).and_then(Value::as_str).unwrap_or_default();
            match d["mapping"].get(tag).and_then(Value::as_str) {
                Some(r) => validate(
                    doc,
                    &json!({ "$ref": r }),
                    value,
                    &format!("{at}<{tag}>"),
                    errors,
                ),
                None => errors.push(format!(
                    "{at}: {prop} {tag:?} is not in the discriminator mapping"
                )),
            }
        } else {
            let matching = one
                .iter()
                .filter(|s| {
                    let mut e = Vec::new();
                    validate(doc, s, value, at, &mut e);
                    e.is_empty()
                })
                .count();
            if matching != 1 {
                errors.push(format!("{at}: {value} matches {matching} of oneOf, not 1"));
            }
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

/// One element of a pattern: the characters it accepts, and how many times.
struct Atom {
    accepts: Box<dyn Fn(char) -> bool>,
    min: usize,
    max: usize,
}

/// A tiny regex for this document's patterns: `^`, `$`, literals, `\`
/// escapes, `[…]` classes with ranges, and `{n}`, `{n,m}`, `+` (`^` is
/// implied: patterns here are anchored at the start).
fn pattern_matches(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.trim_start_matches('^').chars().collect();
    let anchored_end = p.last() == Some(&'$') && p.get(p.len().wrapping_sub(2)) != Some(&'\\');
    let p = if anchored_end {
        &p[..p.len() - 1]
    } else {
        &p[..]
    };
    let mut atoms = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let accepts: Box<dyn Fn(char) -> bool> = match p[i] {
            '[' => {
                let end = i + p[i..].iter().position(|&c| c == ']').unwrap();
                let class: Vec<char> = p[i + 1..end].to_vec();
                i = end + 1;
                Box::new(move |c| {
                    let mut j = 0;
                    while j < class.len() {
                        if j + 2 < class.len() && class[j + 1] == '-' {
                            if (class[j]..=class[j + 2]).contains(&c) {
                                return true;
                            }
                            j += 3;
                        } else {
                            if class[j] == c {
                                return true;
                            }
                            j += 1;
                        }
                    }
                    false
                })
            }
            '\\' => {
                let lit = p[i + 1];
                i += 2;
                Box::new(move |c| c == lit)
            }
            lit => {
                i += 1;
                Box::new(move |c| c == lit)
            }
        };
        let (min, max) = match p.get(i) {
            Some('+') => {
                i += 1;
                (1, usize::MAX)
            }
            Some('{') => {
                let end = i + p[i..].iter().position(|&c| c == '}').unwrap();
                let spec: String = p[i + 1..end].iter().collect();
                i = end + 1;
                match spec.split_once(',') {
                    Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                    None => (spec.parse().unwrap(), spec.parse().unwrap()),
                }
            }
            _ => (1, 1),
        };
        atoms.push(Atom { accepts, min, max });
    }
    let chars: Vec<char> = s.chars().collect();
    match_from(&atoms, &chars, anchored_end)
}

fn match_from(atoms: &[Atom], s: &[char], anchored_end: bool) -> bool {
    let Some((a, rest)) = atoms.split_first() else {
        return !anchored_end || s.is_empty();
    };
    let run = s.iter().take_while(|&&c| (a.accepts)(c)).count().min(a.max);
    (a.min..=run)
        .rev()
        .any(|n| match_from(rest, &s[n..], anchored_end))
}

/// The schema of `method path`'s `status` answer (or of its request body when
/// `status` is `"request"`).
fn schema_of(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    let op = &doc["paths"][path][method.to_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    let mut part = if status == "request" {
        op["requestBody"].clone()
    } else {
        op["responses"][status].clone()
    };
    if let Some(r) = part.get("$ref").and_then(Value::as_str) {
        part = resolve(doc, r).unwrap().clone();
    }
    let schema = part["content"]["application/json"]["schema"].clone();
    assert!(
        schema.is_object(),
        "{method} {path} documents no JSON for {status}"
    );
    schema
}

/// Asserts `value` is valid as `method path`'s `status` answer (or request).
fn assert_valid(doc: &Value, method: &str, path: &str, status: &str, value: &Value) {
    let schema = schema_of(doc, method, path, status);
    let mut errors = Vec::new();
    validate(doc, &schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match the document:\n{}\n{value:#}",
        errors.join("\n")
    );
}

fn problems(doc: &Value, component: &str, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let schema = json!({ "$ref": format!("#/components/schemas/{component}") });
    validate(doc, &schema, value, "$", &mut errors);
    errors
}

// The document ------------------------------------------------------------------

#[tokio::test]
async fn the_served_document_is_openapi_3_1_and_every_ref_resolves() {
    let server = start().await;
    let res = server
        .client
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc, document());
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let scheme = &doc["components"]["securitySchemes"]["apiKey"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 100, "only {} refs", refs.len());
    for r in &refs {
        assert!(r.starts_with("#/components/"), "{r} is not a component");
        assert!(resolve(&doc, r).is_some(), "{r} does not resolve");
    }
    server.stop().await;
}

#[test]
fn every_error_answer_is_an_error_body_with_its_documented_codes() {
    let doc = document();
    let mut statuses = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}"
        );
        for (status, res) in responses {
            let code: u16 = status.parse().unwrap();
            if code < 400 {
                continue;
            }
            statuses.insert(code);
            let r = res["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} {status} should use a shared response"));
            let res = resolve(&doc, r).unwrap();
            let content = &res["content"]["application/json"];
            assert_eq!(
                content["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
            // Its examples are valid bodies with codes of this status.
            for ex in content["examples"].as_object().unwrap().values() {
                let body: ErrorBody = serde_json::from_value(ex["value"].clone()).unwrap();
                assert_eq!(
                    body.error.code.http_status(),
                    code,
                    "{method} {path} {status}"
                );
                assert_valid(&doc, &method, &path, status, &ex["value"]);
            }
        }
    }
    for s in [400, 401, 403, 409, 413, 429, 500, 503] {
        assert!(statuses.contains(&s), "no operation documents {s}");
    }
    // Every shared response is an ErrorBody (404 among them: the answer to
    // any path the document does not list).
    for (name, res) in doc["components"]["responses"].as_object().unwrap() {
        assert_eq!(
            res["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
            "{name}"
        );
    }
    let not_found = &doc["components"]["responses"]["NotFound"]["content"]["application/json"];
    assert!(not_found["examples"].get("not_found").is_some());
    let push_409 = &resolve(&doc, "#/components/responses/PushConflict").unwrap()["content"]["application/json"]
        ["examples"];
    assert!(push_409.get("sequence_gap").is_some());
    let pull_409 = &resolve(&doc, "#/components/responses/EpochChanged").unwrap()["content"]["application/json"]
        ["examples"];
    assert!(pull_409.get("epoch_changed").is_some());

    // The code enum is exactly the Rust one.
    let documented: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let real: BTreeSet<String> = every_error_code()
        .into_iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(documented, real);
}

/// Every code; a new variant does not compile here until it is listed.
fn every_error_code() -> Vec<ErrorCode> {
    let all = vec![
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::SequenceGap,
        ErrorCode::EpochChanged,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];
    for c in &all {
        match c {
            ErrorCode::BadRequest
            | ErrorCode::Unauthorized
            | ErrorCode::Forbidden
            | ErrorCode::NotFound
            | ErrorCode::SequenceGap
            | ErrorCode::EpochChanged
            | ErrorCode::Conflict
            | ErrorCode::PayloadTooLarge
            | ErrorCode::RateLimited
            | ErrorCode::Internal
            | ErrorCode::Unavailable => {}
        }
    }
    all
}

// Routes ------------------------------------------------------------------------

/// The `(METHOD, path)` pairs of the `.route(…)` calls in `src/lib.rs`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/lib.rs");
    let mut out = BTreeSet::new();
    // `.route("/path", …)`, on one line or as rustfmt breaks a long one.
    for chunk in src.split(".route(").skip(1) {
        let Some(chunk) = chunk.trim_start().strip_prefix('"') else {
            continue;
        };
        let (path, rest) = chunk.split_once('"').unwrap();
        // The method router: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let call = &rest[..end];
        for m in METHODS {
            if call.contains(&format!("{m}(")) {
                out.insert((m.to_uppercase(), path.to_string()));
            }
        }
    }
    out
}

#[test]
fn the_route_list_matches_the_router_source() {
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        routes_in_source(),
        listed,
        "router() in src/lib.rs serves other routes than ROUTES lists: update ROUTES and docs/openapi.json"
    );
}

#[test]
fn every_route_the_router_serves_is_documented() {
    let doc = document();
    let ops = operations(&doc);
    for (method, path) in ROUTES {
        let op = ops
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, op)| op);
        let op = op.unwrap_or_else(|| panic!("{method} {path} is not in docs/openapi.json"));
        assert!(op["operationId"].is_string(), "{method} {path}");
        assert!(
            !pending(op),
            "{method} {path} is served: remove its x-whiz-pending"
        );
    }
    for (method, path, op) in &ops {
        if !pending(op) {
            assert!(
                ROUTES.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is documented but not served (mark it x-whiz-pending while it is being built)"
            );
        }
    }
}

#[tokio::test]
async fn every_documented_path_answers_and_pending_ones_do_not_yet() {
    let server = start().await;
    for (method, path, op) in operations(&document()) {
        let res = server
            .client
            .request(method.parse().unwrap(), server.url(&path))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if pending(&op) {
            assert_eq!(
                status, 404,
                "{method} {path} is served now: remove its x-whiz-pending and check its schemas against the real answers"
            );
        } else {
            assert_ne!(status, 404, "{method} {path} is documented but 404s");
            // Whatever it answered (401 without a key) is documented.
            assert!(
                op["responses"].get(status.to_string()).is_some(),
                "{method} {path} answered {status}, which is not documented"
            );
        }
    }
    server.stop().await;
}

// Real messages -----------------------------------------------------------------

async fn get_json(server: &TestServer, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = server.client.get(server.url(path));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn real_messages_match_the_schemas() {
    let doc = document();
    let server = start().await;

    // Status and device, from the live server.
    let (status, body) = get_json(&server, "/api/status", None).await;
    assert_eq!(status, 200);
    serde_json::from_value::<StatusResponse>(body.clone()).unwrap();
    assert_valid(&doc, "GET", "/api/status", "200", &body);

    let mut till = server.till("Westlands", "Till 1");
    let (status, body) = get_json(&server, "/api/device", Some(&till.key)).await;
    assert_eq!(status, 200);
    assert_valid(&doc, "GET", "/api/device", "200", &body);

    // A push with every kind of op, a sale among them, and one rejected op.
    let product = ProductId::new();
    let category = CategoryId::new();
    let customer = CustomerId::new();
    let vat = TaxCode::parse("VAT16").unwrap();
    let mut ops = vec![
        till.cashier_op(),
        till.op(OpBody::TaxRateChanged(TaxRateRecord {
            code: vat.clone(),
            name: "VAT 16%".into(),
            basis_points: 1600,
            deleted: false,
        })),
        till.op(OpBody::SettingsChanged(SettingsPatch {
            store_name: Some("Mama Njeri Stores".into()),
            time_zone: Some(TimeZone::NAIROBI),
            ..SettingsPatch::default()
        })),
        till.op(OpBody::CategoryChanged(CategoryPatch {
            name: Some(name("Drinks")),
            sort_order: Some(1),
            ..CategoryPatch::new(category)
        })),
        till.op(new_product(product, "Soda 500ml", 80_00)),
        till.op(OpBody::CustomerChanged(CustomerPatch {
            name: Some(name("Otieno")),
            phone: Some(Some(pos_domain::PhoneNumber::parse("0712345678").unwrap())),
            credit_limit: Some(kes(5_000_00)),
            ..CustomerPatch::new(customer)
        })),
    ];
    let sale = till.sale(&[(product, "Soda 500ml", 80_00, 2)]);
    ops.push(till.op(OpBody::SaleRecorded(sale)));
    let now = till.now();
    ops.push(till.op(OpBody::StockMoved(StockMovementRecord {
        id: MovementId::new(),
        product_id: product,
        branch_id: till.branch_id,
        device_id: till.device_id,
        kind: MovementKind::Restock,
        quantity: Quantity::units(24),
        sale_id: None,
        user_id: Some(till.cashier),
        note: Some("delivery".into()),
        created_at: now,
    })));
    ops.push(till.op(OpBody::LedgerEntryAdded(LedgerEntryRecord {
        id: LedgerEntryId::new(),
        customer_id: customer,
        branch_id: till.branch_id,
        device_id: till.device_id,
        kind: LedgerKind::Adjustment,
        amount: kes(100_00),
        sale_id: None,
        method: Some(PaymentMethod::Cash),
        reference: None,
        user_id: Some(till.cashier),
        note: None,
        created_at: now,
    })));
    ops.push(till.op(OpBody::ExpenseChanged(ExpensePatch {
        branch_id: Some(till.branch_id),
        device_id: Some(till.device_id),
        user_id: Some(till.cashier),
        category: Some(name("Transport")),
        description: Some("boda to the wholesaler".into()),
        amount: Some(kes(200_00)),
        paid_with: Some(ExpensePaidWith::Mpesa),
        reference: Some(None),
        spent_at: Some(now),
        business_day: Some(TimeZone::NAIROBI.business_day(now).to_string()),
        ..ExpensePatch::new(ExpenseId::new())
    })));
    ops.push(till.op(OpBody::CategoryDeleted(Tombstone {
        id: category,
        deleted_at: now,
    })));
    // 6 sodas sent to another branch.
    let cbd = server.till("CBD", "Till 1").branch_id;
    ops.push(till.op(OpBody::TransferSent(TransferSentRecord {
        id: TransferId::new(),
        from_branch: till.branch_id,
        to_branch: cbd,
        device_id: till.device_id,
        lines: vec![TransferLine {
            product_id: product,
            quantity: Quantity::units(6),
        }],
        note: Some("weekend stock".into()),
        sent_by: till.cashier,
        sent_at: now,
        movements: vec![StockMovementRecord {
            id: MovementId::new(),
            product_id: product,
            branch_id: till.branch_id,
            device_id: till.device_id,
            kind: MovementKind::TransferOut,
            quantity: Quantity::units(-6),
            sale_id: None,
            user_id: Some(till.cashier),
            note: Some("weekend stock".into()),
            created_at: now,
        }],
    })));
    // A movement of a product the server does not have: rejected.
    ops.push(till.op(OpBody::StockMoved(StockMovementRecord {
        id: MovementId::new(),
        product_id: ProductId::new(),
        branch_id: till.branch_id,
        device_id: till.device_id,
        kind: MovementKind::Adjustment,
        quantity: Quantity::units(-1),
        sale_id: None,
        user_id: None,
        note: None,
        created_at: now,
    })));
    let request = serde_json::to_value(PushRequest { ops: ops.clone() }).unwrap();
    assert_valid(&doc, "POST", "/api/sync", "request", &request);

    let res = server.push(&till.key, &ops).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_valid(&doc, "POST", "/api/sync", "200", &body);
    let pushed: PushResponse = serde_json::from_value(body).unwrap();
    let outcomes: Vec<&OpOutcome> = pushed.results.iter().map(|r| &r.outcome).collect();
    assert!(
        outcomes[..outcomes.len() - 1]
            .iter()
            .all(|o| **o == OpOutcome::Applied),
        "{outcomes:?}"
    );
    assert!(matches!(
        outcomes.last(),
        Some(OpOutcome::Rejected {
            code: RejectCode::UnknownReference,
            ..
        })
    ));
    // A replay answers duplicate.
    let again = server.push_ok(&till.key, &ops[..1]).await;
    assert_valid(
        &doc,
        "POST",
        "/api/sync",
        "200",
        &serde_json::to_value(&again).unwrap(),
    );

    // The pull after it carries every kind of change the push made.
    let (status, body) = get_json(&server, "/api/sync", Some(&till.key)).await;
    assert_eq!(status, 200);
    assert_valid(&doc, "GET", "/api/sync", "200", &body);
    let pulled: PullResponse = serde_json::from_value(body.clone()).unwrap();
    let kinds: BTreeSet<&str> = body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"]["type"].as_str().unwrap())
        .collect();
    for kind in [
        "branch",
        "user",
        "tax_rate",
        "settings",
        "category",
        "product",
        "customer",
        "sale",
        "stock_moved",
        "ledger_entry",
        "expense",
        "transfer_sent",
    ] {
        assert!(kinds.contains(kind), "no {kind} change in {kinds:?}");
    }
    let cursor = pulled.next_cursor.to_string();
    let (status, body) = get_json(
        &server,
        &format!("/api/sync?cursor={cursor}&limit=5"),
        Some(&till.key),
    )
    .await;
    assert_eq!(status, 200);
    assert_valid(&doc, "GET", "/api/sync", "200", &body);

    // Error answers from the live server.
    let (status, body) = get_json(&server, "/api/device", None).await;
    assert_eq!(status, 401);
    assert_valid(&doc, "GET", "/api/device", "401", &body);
    let mut gap = ops[0].clone();
    gap.device_seq = till.seq + 5;
    gap.op_id = pos_domain::OpId::new();
    let res = server.push(&till.key, &[gap]).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "sequence_gap");
    assert_valid(&doc, "POST", "/api/sync", "409", &body);
    let other_epoch = format!("{}.1", uuid_like());
    let (status, body) = get_json(
        &server,
        &format!("/api/sync?cursor={other_epoch}"),
        Some(&till.key),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "epoch_changed");
    assert_valid(&doc, "GET", "/api/sync", "409", &body);
    let (status, body) = get_json(&server, "/api/sync?limit=x", Some(&till.key)).await;
    assert_eq!(status, 400);
    assert_valid(&doc, "GET", "/api/sync", "400", &body);
    let (status, body) = get_json(&server, "/api/nothing-here", None).await;
    assert_eq!(status, 404);
    assert!(problems(&doc, "ErrorBody", &body).is_empty(), "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    // The mobile API: the catalogue, and a sale posted twice.
    let (status, body) = get_json(&server, "/api/products", Some(&till.key)).await;
    assert_eq!(status, 200);
    assert!(!body["products"].as_array().unwrap().is_empty(), "{body}");
    assert_valid(&doc, "GET", "/api/products", "200", &body);
    let sale = till.sale(&[(product, "Soda 500ml", 80_00, 1)]);
    let request = serde_json::to_value(&sale).unwrap();
    assert_valid_request(&doc, "POST", "/api/transaction", &request);
    for expected in [201, 200] {
        let res = server
            .client
            .post(server.url("/api/transaction"))
            .bearer_auth(&till.key)
            .json(&sale)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), expected);
        let body: Value = res.json().await.unwrap();
        assert_valid(
            &doc,
            "POST",
            "/api/transaction",
            &expected.to_string(),
            &body,
        );
    }

    // Cross-branch customer history, asked by another branch's till: a
    // credit sale and a payment of the customer, and an unknown customer.
    let mut sale = till.sale(&[(product, "Soda 500ml", 80_00, 2)]);
    common::seed::on_credit(&till, &mut sale, customer);
    let pay = common::seed::ledger_payment(
        &till,
        customer,
        10_00,
        PaymentMethod::Mpesa,
        Some("QK12345678"),
    );
    let ops = [till.op(OpBody::SaleRecorded(sale)), till.op(pay)];
    server.push_applied(&till.key, &ops).await;
    let other = server.till("Town", "Till 1");
    let path = format!("/api/customers/{customer}/history");
    let (status, body) = get_json(&server, &path, Some(&other.key)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body["sales"].as_array().unwrap().is_empty(), "{body}");
    assert!(body["ledger"].as_array().unwrap().len() >= 2, "{body}");
    assert_valid(&doc, "GET", "/api/customers/{id}/history", "200", &body);
    let path = format!("/api/customers/{}/history", CustomerId::new());
    let (status, body) = get_json(&server, &path, Some(&other.key)).await;
    assert_eq!(status, 404);
    assert_valid(&doc, "GET", "/api/customers/{id}/history", "404", &body);
    let (status, body) = get_json(&server, "/api/customers/x/history", Some(&other.key)).await;
    assert_eq!(status, 400);
    assert_valid(&doc, "GET", "/api/customers/{id}/history", "400", &body);

    server.stop().await;
}

#[tokio::test]
async fn full_sync_messages_match_the_schemas() {
    use sync_protocol::{
        ApplyChunk, CategoryState, CustomerState, EntityKind, ExpenseState, FinishRequest,
        FullRecord, FullSyncMode, FullSyncRequest, FullSyncResponse, PreviewPart, ProductState,
        RecordRef, UserState,
    };
    let doc = document();
    let server = start().await;
    let mut till = server.till("Main", "Till 1");
    let ops = [till.cashier_op()];
    server.push_ok(&till.key, &ops).await;
    let now = till.now();
    let hlc = pos_domain::Hlc::new(T0 as u64, 0, 7);
    let category = CategoryState {
        id: CategoryId::new(),
        name: name("Drinks"),
        sort_order: 1,
        hlc,
        deleted_at: None,
    };
    let product = ProductState {
        id: ProductId::new(),
        name: name("Soda 500ml"),
        sku: None,
        barcode: None,
        category_id: Some(category.id),
        price: kes(80_00),
        tax_code: TaxCode::parse("VAT16").unwrap(),
        image: None,
        track_stock: true,
        low_stock: Some(Quantity::units(5)),
        created_at: now,
        hlc,
        deleted_at: None,
    };
    let customer = CustomerState {
        id: CustomerId::new(),
        name: name("Akinyi"),
        phone: None,
        email: Some("akinyi@example.com".into()),
        credit_limit: kes(5_000_00),
        notes: None,
        created_at: now,
        hlc,
        deleted_at: None,
    };
    let user = UserState {
        id: pos_domain::UserId::new(),
        name: name("Otieno"),
        role: pos_domain::Role::Manager,
        pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        active: true,
        created_at: now,
        hlc,
        deleted_at: None,
    };
    let expense = ExpenseState {
        id: ExpenseId::new(),
        branch_id: till.branch_id,
        device_id: till.device_id,
        user_id: till.cashier,
        category: name("Transport"),
        description: "boda".into(),
        amount: kes(200_00),
        paid_with: ExpensePaidWith::Cash,
        reference: None,
        spent_at: now,
        business_day: TimeZone::NAIROBI.business_day(now).to_string(),
        created_at: now,
        hlc,
        deleted_at: Some(now),
    };
    let mut settings = backoffice::apply::settings_state(&server.admin()).unwrap();
    settings.store_name = "Duka Bora".into();
    let sale = till.sale(&[(product.id, "Soda 500ml", 80_00, 1)]);
    let ghost = till.sale(&[(ProductId::new(), "Ghost", 10_00, 1)]);
    let records = vec![
        FullRecord::Settings(settings),
        FullRecord::TaxRate(TaxRateRecord {
            code: TaxCode::parse("VAT8").unwrap(),
            name: "VAT 8%".into(),
            basis_points: 800,
            deleted: false,
        }),
        FullRecord::Category(category),
        FullRecord::Product(product.clone()),
        FullRecord::User(user),
        FullRecord::Customer(customer.clone()),
        FullRecord::Expense(expense),
        FullRecord::Sale(sale),
        FullRecord::Sale(ghost),
        FullRecord::StockMovement(StockMovementRecord {
            id: MovementId::new(),
            product_id: product.id,
            branch_id: till.branch_id,
            device_id: till.device_id,
            kind: MovementKind::Restock,
            quantity: Quantity::units(12),
            sale_id: None,
            user_id: None,
            note: Some("delivery".into()),
            created_at: now,
        }),
        FullRecord::LedgerEntry(LedgerEntryRecord {
            id: LedgerEntryId::new(),
            customer_id: customer.id,
            branch_id: till.branch_id,
            device_id: till.device_id,
            kind: LedgerKind::Payment,
            amount: kes(-500_00),
            sale_id: None,
            method: Some(PaymentMethod::Cash),
            reference: None,
            user_id: Some(till.cashier),
            note: None,
            created_at: now,
        }),
    ];
    let post = |body: Value| {
        let req = server
            .client
            .post(server.url("/api/sync/full"))
            .bearer_auth(&till.key)
            .json(&body);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };

    // Preview.
    let mut entries: Vec<_> = records
        .iter()
        .filter(|r| r.entity() == EntityKind::Product)
        .map(FullRecord::manifest_entry)
        .collect();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let request = serde_json::to_value(FullSyncRequest::Preview(PreviewPart {
        entity: EntityKind::Product,
        after: None,
        through: Some("ffffffff".into()),
        records: entries,
    }))
    .unwrap();
    assert_valid_request(&doc, "POST", "/api/sync/full", &request);
    let (status, body) = post(request).await;
    assert_eq!(status, 200, "{body}");
    assert_valid(&doc, "POST", "/api/sync/full", "200", &body);
    assert_eq!(body["to_add"][0], product.id.to_string());

    // Apply: every kind of record, one of them rejected.
    let session = uuid::Uuid::now_v7();
    let request = serde_json::to_value(FullSyncRequest::Apply(ApplyChunk {
        session,
        chunk: 1,
        mode: FullSyncMode::Overwrite,
        records,
        remove: vec![RecordRef {
            entity: EntityKind::Product,
            id: ProductId::new().to_string(),
        }],
    }))
    .unwrap();
    assert_valid_request(&doc, "POST", "/api/sync/full", &request);
    for duplicate in [false, true] {
        let (status, body) = post(request.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_valid(&doc, "POST", "/api/sync/full", "200", &body);
        let answer: FullSyncResponse = serde_json::from_value(body).unwrap();
        let FullSyncResponse::Apply(answer) = answer else {
            panic!("{answer:?}");
        };
        assert_eq!(answer.duplicate, duplicate);
        assert_eq!((answer.added, answer.overwritten), (9, 1), "{answer:?}");
        assert_eq!(answer.rejected.len(), 2, "{answer:?}");
    }

    // Finish.
    let request = serde_json::to_value(FullSyncRequest::Finish(FinishRequest {
        session,
        acknowledged_seq: 1,
    }))
    .unwrap();
    assert_valid_request(&doc, "POST", "/api/sync/full", &request);
    let (status, body) = post(request).await;
    assert_eq!(status, 200, "{body}");
    assert_valid(&doc, "POST", "/api/sync/full", "200", &body);
    assert_eq!(body["next_device_seq"], 2);

    // Errors: a bad part, another device's session.
    let (status, body) = post(json!({"step": "preview", "entity": "product", "after": "b", "through": "a", "records": []})).await;
    assert_eq!(status, 400);
    assert_valid(&doc, "POST", "/api/sync/full", "400", &body);
    let other = server.till("Main", "Till 2");
    let res = server
        .client
        .post(server.url("/api/sync/full"))
        .bearer_auth(&other.key)
        .json(&json!({"step": "finish", "session": session, "acknowledged_seq": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_valid(&doc, "POST", "/api/sync/full", "409", &body);
    server.stop().await;
}

/// Asserts `value` is valid as the JSON request body of `method path`.
fn assert_valid_request(doc: &Value, method: &str, path: &str, value: &Value) {
    let schema = doc["paths"][path][method.to_lowercase()]["requestBody"]["content"]["application/json"]["schema"].clone();
    assert!(
        !schema.is_null(),
        "{method} {path} documents no JSON request body"
    );
    let mut errors = Vec::new();
    validate(doc, &schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {path} request does not match the document:\n{}",
        errors.join("\n")
    );
}

/// A UUID no server has as its epoch.
fn uuid_like() -> String {
    "01933b6e-0000-7c31-9a55-2f1d0c4e7b10".to_string()
}

// The validator catches what it should -------------------------------------------

fn a_push_response() -> Value {
    serde_json::to_value(PushResponse {
        results: vec![
            OpResult {
                op_id: pos_domain::OpId::new(),
                device_seq: 1,
                outcome: OpOutcome::Applied,
            },
            OpResult {
                op_id: pos_domain::OpId::new(),
                device_seq: 2,
                outcome: OpOutcome::Rejected {
                    code: RejectCode::WrongBranch,
                    reason: "another branch's sale".into(),
                },
            },
        ],
        server_time: pos_domain::Timestamp::from_millis(T0),
    })
    .unwrap()
}

#[test]
fn the_validator_catches_renamed_missing_and_wrong_fields() {
    let doc = document();
    let good = a_push_response();
    assert_eq!(problems(&doc, "PushResponse", &good), Vec::<String>::new());

    let mut renamed = good.clone();
    let r = renamed["results"][1].as_object_mut().unwrap();
    let reason = r.remove("reason").unwrap();
    r.insert("message".into(), reason);
    assert_eq!(
        problems(&doc, "PushResponse", &renamed).len(),
        2,
        "{renamed}"
    );

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("server_time");
    assert!(!problems(&doc, "PushResponse", &missing).is_empty());

    let mut bad_status = good.clone();
    bad_status["results"][0]["status"] = json!("accepted");
    assert!(!problems(&doc, "PushResponse", &bad_status).is_empty());

    let mut bad_code = good.clone();
    bad_code["results"][1]["code"] = json!("nope");
    assert!(!problems(&doc, "PushResponse", &bad_code).is_empty());

    let mut wrong_type = good;
    wrong_type["server_time"] = json!("yesterday");
    assert!(!problems(&doc, "PushResponse", &wrong_type).is_empty());

    let err = serde_json::to_value(ErrorBody {
        error: ErrorDetail {
            code: ErrorCode::SequenceGap,
            message: "push again from 5".into(),
            expected_seq: Some(5),
        },
    })
    .unwrap();
    assert!(problems(&doc, "ErrorBody", &err).is_empty());
    let mut unknown_code = err;
    unknown_code["error"]["code"] = json!("teapot");
    assert!(!problems(&doc, "ErrorBody", &unknown_code).is_empty());

    // Formats: money, clocks, cursors, op bodies by type.
    assert!(problems(&doc, "Money", &json!({"minor": 100, "currency": "KES"})).is_empty());
    assert!(!problems(&doc, "Money", &json!({"minor": 1.5, "currency": "KES"})).is_empty());
    assert!(!problems(&doc, "Money", &json!({"amount": 100, "currency": "KES"})).is_empty());
    assert!(
        problems(
            &doc,
            "Hlc",
            &json!("0019c9b3c4a80-00000000-9a552f1d0c4e7b10")
        )
        .is_empty()
    );
    assert!(!problems(&doc, "Hlc", &json!("0019c9b3c4a80-0-9a552f1d0c4e7b10")).is_empty());
    assert!(problems(&doc, "Cursor", &json!(format!("{}.812", uuid_like()))).is_empty());
    assert!(!problems(&doc, "Cursor", &json!("812")).is_empty());
    let tomb = json!({"id": uuid_like(), "deleted_at": T0});
    assert!(
        problems(
            &doc,
            "OpBody",
            &json!({"type": "product_deleted", "data": tomb})
        )
        .is_empty()
    );
    assert!(
        !problems(
            &doc,
            "OpBody",
            &json!({"type": "product_gone", "data": tomb})
        )
        .is_empty()
    );
    assert!(
        !problems(
            &doc,
            "OpBody",
            &json!({"type": "sale_recorded", "data": tomb})
        )
        .is_empty()
    );
}
