//! A pretend browser for the dashboard's HTTP tests: a cookie jar, no
//! automatic redirects, and the session's CSRF token scraped from a page.

use backoffice::web::session::{self, Role};
use reqwest::StatusCode;
use reqwest::header::LOCATION;

use super::TestServer;

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery";

/// An answer: status, `Location` (redirects), body.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// Asserts a redirect to `to` (exactly, or a prefix ending in `*`).
    #[track_caller]
    pub fn assert_redirect(&self, to: &str) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        let loc = self.location.as_deref().unwrap_or("");
        match to.strip_suffix('*') {
            Some(prefix) => assert!(loc.starts_with(prefix), "redirect to {loc}, wanted {to}"),
            None => assert_eq!(loc, to),
        }
    }

    /// Asserts the answer's status.
    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.body);
    }

    /// Asserts 200 and that the body contains every one of `texts`.
    #[track_caller]
    pub fn assert_ok(&self, texts: &[&str]) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        for t in texts {
            assert!(
                self.body.contains(t),
                "the page lacks {t:?}:\n{}",
                self.body
            );
        }
    }

    /// Asserts a 400 page whose error box contains `text`.
    #[track_caller]
    pub fn assert_bad(&self, text: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.body);
        assert!(
            self.body.contains("form-error"),
            "no error box:\n{}",
            self.body
        );
        assert!(
            self.body.contains(text),
            "the error lacks {text:?}:\n{}",
            self.body
        );
    }

    /// Asserts a 400 page whose error box contains `text` and, when `kept`
    /// is given, whose form still holds the typed value `kept`.
    #[track_caller]
    pub fn assert_bad_keeping(&self, text: &str, kept: Option<&str>) {
        self.assert_bad(text);
        if let Some(kept) = kept {
            assert!(
                self.body.contains(&format!("value=\"{kept}\"")),
                "typed values stay: {text}"
            );
        }
    }

    /// Asserts the page asking to confirm a destructive action (200): it
    /// contains every one of `texts`, and its form posts to `action` with
    /// the CSRF token `csrf` and `confirm=yes` from a button marked
    /// `data-testid="confirm"`.
    #[track_caller]
    pub fn assert_confirm(&self, csrf: &str, action: &str, texts: &[&str]) {
        self.assert_confirm_with("confirm", csrf, action, texts);
    }

    /// [`Page::assert_confirm`] with the button marked `data-testid="{button}"`.
    #[track_caller]
    pub fn assert_confirm_with(&self, button: &str, csrf: &str, action: &str, texts: &[&str]) {
        self.assert_ok(texts);
        let marker = format!("action=\"{action}\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no form with {marker}:\n{}", self.body));
        let rest = &self.body[at..];
        let form = &rest[..rest.find("</form>").expect("the form ends")];
        for needed in [
            format!("name=\"_csrf\" value=\"{csrf}\""),
            "name=\"confirm\" value=\"yes\"".to_string(),
            format!("data-testid=\"{button}\""),
            ">Cancel</a>".to_string(),
        ] {
            assert!(form.contains(&needed), "the form lacks {needed:?}:\n{form}");
        }
    }

    /// The text of the element marked `data-testid="{id}"`, up to and with
    /// the first `end` after it (or to the end of the page).
    #[track_caller]
    pub fn part(&self, id: &str, end: &str) -> &str {
        let marker = format!("data-testid=\"{id}\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {marker}:\n{}", self.body));
        let rest = &self.body[at..];
        &rest[..rest.find(end).map_or(rest.len(), |e| e + end.len())]
    }

    /// The value of the first `name="…" value="…"` hidden field.
    pub fn field(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\" value=\""))?;
        let rest = &self.body[at + name.len() + 15..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

/// The text of the element marked `data-testid="{id}"` (up to the next tag).
pub fn testid_text(body: &str, id: &str) -> Option<String> {
    let at = body.find(&format!("data-testid=\"{id}\""))?;
    let rest = &body[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].to_string())
}

/// The HTML of the table row marked `data-testid="{id}"`.
pub fn testid_row<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let at = body.find(&format!("data-testid=\"{id}\""))?;
    let rest = &body[at..];
    Some(&rest[..rest.find("</tr>")?])
}

/// One browser: its own cookie jar.
#[derive(Debug)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    /// The session's CSRF token once signed in.
    pub csrf: String,
}

impl TestServer {
    /// Makes a dashboard account (as `whiz-backoffice user add` does) with
    /// [`PASSWORD`].
    pub fn account(&self, username: &str, role: Role) {
        let conn = self.admin();
        session::add_account(
            &conn,
            self.clock.as_ref(),
            username,
            username,
            role,
            PASSWORD,
        )
        .unwrap();
    }

    /// A browser that has not signed in.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
            csrf: String::new(),
        }
    }

    /// A browser signed in as a new account `username` with `role`.
    pub async fn signed_in(&self, username: &str, role: Role) -> Browser {
        self.account(username, role);
        let mut b = self.browser();
        b.sign_in(username, PASSWORD).await.assert_redirect("/");
        let home = b.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        b.csrf = home
            .field("_csrf")
            .expect("a signed-in page carries the CSRF token");
        b
    }
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status();
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let set_cookies = res
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        Page {
            status,
            location,
            set_cookies,
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// Opens the sign-in page and signs in; answers the POST's response.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let token = form
            .field("_csrf")
            .expect("the sign-in form has a CSRF token");
        self.post_raw(
            "/login",
            &[
                ("_csrf", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// POSTs `fields` with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", &self.csrf)];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POSTs exactly `fields` (no CSRF token unless given).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::page(
            self.client
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POSTs a multipart form (with the CSRF token) holding `fields` and
    /// one file `file` = (field, file name, content type, bytes).
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &str, Vec<u8>)>,
    ) -> Page {
        let mut form = reqwest::multipart::Form::new().text("_csrf", self.csrf.clone());
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        if let Some((field, name, mime, bytes)) = file {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap();
            form = form.part(field.to_string(), part);
        }
        Self::page(
            self.client
                .post(self.url(path))
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}
