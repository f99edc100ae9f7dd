//! Settings the server runs with, resolved from the command line.

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address printed on links and QR codes, without a trailing slash.
    pub public_url: String,
    /// Serve /metrics on the main listener (when no separate one is set).
    pub metrics_on_main: bool,
}

impl ServerConfig {
    pub fn new(public_url: &str, metrics_on_main: bool) -> Self {
        ServerConfig {
            public_url: public_url.trim_end_matches('/').to_string(),
            metrics_on_main,
        }
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Cookies are marked Secure when the public address is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
