//! TLS for the raw-socket requests (the 411 check writes bytes reqwest would correct): the same
//! trust as the HTTP client, rustls with the platform's roots plus `--cacert`, or no verification
//! with `--insecure`. reqwest keeps its rustls configuration to itself, so it is built again here
//! from the same inputs.

use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::client::{describe, Tls, TransportError};

/// A rustls client configuration that trusts what `tls` says.
pub(crate) fn config(tls: &Tls) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError(describe(&e)))?;
    let config = if tls.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider))).with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        // Unreadable platform certificates are left out, as reqwest does.
        let (_added, _ignored) = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(pem) = &tls.cacert {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| TransportError(format!("the CA file is not PEM: {}", describe(&e))))?;
                roots.add(cert).map_err(|e| TransportError(format!("the CA file: {}", describe(&e))))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: the host of `authority` (`host:port`, an IP
/// address or `[v6]:port`).
pub(crate) fn server_name(authority: &str) -> Result<ServerName<'static>, TransportError> {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    ServerName::try_from(host.to_owned()).map_err(|e| TransportError(format!("`{host}`: {e}")))
}

/// `--insecure`: every certificate is accepted; signatures are still checked to complete the
/// handshake.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_authorities() {
        assert_eq!(server_name("127.0.0.1:8443").unwrap().to_str(), "127.0.0.1");
        assert_eq!(server_name("api.example.com:443").unwrap().to_str(), "api.example.com");
        assert_eq!(server_name("[::1]:8443").unwrap().to_str(), "::1");
        assert!(config(&Tls { cacert: None, insecure: true }).is_ok());
        assert!(config(&Tls { cacert: None, insecure: false }).is_ok());
    }
}
