import TernNet

extension RequestContext {
    /// Who sent the request, as the authorizer names principals: the SASL user (`User:NAME`) on a
    /// SASL listener, else the subject of a verified TLS client certificate (`User:CN=…`), else
    /// `User:ANONYMOUS` (Kafka's name for an unauthenticated connection).
    var principal: String {
        if let user = connection.authenticatedPrincipal { return user }
        if let subject = connection.peerCertificateSubject { return "User:\(subject)" }
        return "User:ANONYMOUS"
    }
}
