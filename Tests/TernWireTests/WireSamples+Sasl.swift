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
            .request(DescribeUserScramCredentialsRequest()),
            .request(DescribeUserScramCredentialsRequest(users: [str("alice"), str("")]), "named"),
            .response(
                DescribeUserScramCredentialsResponse(results: [
                    .init(
                        user: str("alice"),
                        credentials: [.init(mechanism: .sha256, iterations: 4096), .init(mechanism: .sha512, iterations: 8192)]),
                    .init(user: str("bob"), errorCode: .resourceNotFound, errorMessage: str("no"), credentials: []),
                ])),
            .response(
                DescribeUserScramCredentialsResponse(
                    errorCode: .clusterAuthorizationFailed, errorMessage: str("denied"), results: []), "denied"),
            .request(
                AlterUserScramCredentialsRequest(
                    deletions: [.init(user: str("bob"), mechanism: .sha512)],
                    upsertions: [
                        .init(
                            user: str("alice"), mechanism: .sha256, iterations: 4096,
                            salt: [UInt8](repeating: 7, count: 32), saltedPassword: [UInt8](repeating: 9, count: 32))
                    ])),
            .request(AlterUserScramCredentialsRequest(), "empty"),
            .response(
                AlterUserScramCredentialsResponse(results: [
                    .init(user: str("alice")),
                    .init(user: str("bob"), errorCode: .unacceptableCredential, errorMessage: str("iterations")),
                ])),
        ]
    }
}
