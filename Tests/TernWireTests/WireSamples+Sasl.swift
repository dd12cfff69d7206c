import TernWire

extension WireSamples {
    /// Samples of SaslHandshake and SaslAuthenticate; `str` substitutes every string.
    static func saslSamples(_ str: (String) -> String) -> [WireCase] {
        [
            .request(SaslHandshakeRequest(mechanism: str("SCRAM-SHA-256"))),
            .request(SaslHandshakeRequest(mechanism: str("")), "empty"),
            .response(SaslHandshakeResponse(mechanisms: [str("SCRAM-SHA-256"), str("SCRAM-SHA-512"), str("PLAIN")])),
            .response(SaslHandshakeResponse(errorCode: .unsupportedSaslMechanism, mechanisms: []), "unsupported"),
            .request(SaslAuthenticateRequest(authBytes: Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))),
            .request(SaslAuthenticateRequest(authBytes: []), "empty"),
            .response(
                SaslAuthenticateResponse(authBytes: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))),
            .response(
                SaslAuthenticateResponse(
                    errorCode: .saslAuthenticationFailed, errorMessage: str("Authentication failed"), authBytes: [],
                    sessionLifetimeMs: Int64.max), "failed"),
        ]
    }
}
