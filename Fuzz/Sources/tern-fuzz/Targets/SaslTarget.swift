import TernWire

/// The SASL messages a client sends before it is authenticated (the bytes of SaslAuthenticate),
/// and the server-first a client parses. The first input byte picks the parser; the rest is the
/// message:
///
/// - 0: SCRAM client-first; 1, 2: SCRAM client-final for SHA-256 / SHA-512 proofs;
/// - 3: PLAIN; 4: SCRAM server-first (the client's side);
/// - 5: a whole server-side SCRAM-SHA-256 exchange, client-first and client-final split at the
///   first NUL, against a stored credential for `alice` (unknown users get the fake credential).
enum SaslTarget {
    static let target = FuzzTarget(
        name: "sasl", maxLength: 2048, summary: "SCRAM client-first/client-final/server-first, PLAIN, ScramServer",
        run: run, seeds: seeds)

    /// alice's SCRAM-SHA-256 credential (password "alice-secret"), derived once.
    static let alice = ScramCredential(
        mechanism: .sha256, password: "alice-secret", salt: Array("fuzz-salt-16byte".utf8), iterations: 4096)
    static let serverNonce = "srvNonce"

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let mode = input.first else { return }
        let message = [UInt8](input.dropFirst())
        switch mode % 6 {
        case 0: clientFirst(message)
        case 1: clientFinal(message, digestSize: ScramMechanism.sha256.digestSize)
        case 2: clientFinal(message, digestSize: ScramMechanism.sha512.digestSize)
        case 3: plain(message)
        case 4: serverFirst(message)
        default: exchange(message)
        }
    }

    private static func clientFirst(_ bytes: [UInt8]) {
        guard let first = try? ScramMessages.parseClientFirst(bytes) else { return }
        // The parts are the message's own text: header and bare together are exactly the input
        // (the bare part enters AuthMessage, which both sides must compute alike).
        fuzzCheck(Array((first.gs2Header + first.bare).utf8) == bytes, "client-first: header + bare != message")
        fuzzCheck(!first.username.isEmpty && !first.nonce.isEmpty, "client-first: empty user or nonce")
        // The user name's saslname form parses back to the same name.
        let rebuilt = ScramMessages.clientFirst(username: first.username, nonce: first.nonce)
        guard let again = try? ScramMessages.parseClientFirst(rebuilt.message) else {
            fuzzFail("client-first: the client's own formatting of '\(first.username)' does not parse")
        }
        fuzzCheck(again.username == first.username && again.nonce == first.nonce, "client-first: name or nonce changed")
    }

    private static func clientFinal(_ bytes: [UInt8], digestSize: Int) {
        guard let final = try? ScramMessages.parseClientFinal(bytes, digestSize: digestSize) else { return }
        fuzzCheck(final.proof.count == digestSize, "client-final: proof of \(final.proof.count) bytes")
        let rebuilt = Array("\(final.withoutProof),p=\(Base64.encode(final.proof))".utf8)
        guard let again = try? ScramMessages.parseClientFinal(rebuilt, digestSize: digestSize) else {
            fuzzFail("client-final: its own formatting does not parse")
        }
        fuzzCheck(again == final, "client-final: format∘parse changed the message")
    }

    private static func plain(_ bytes: [UInt8]) {
        guard let message = try? PlainMessage.parse(bytes) else { return }
        fuzzCheck(message.encoded == bytes, "PLAIN: re-encodes to other bytes")
        fuzzCheck(
            message.authorizationId == nil || message.authorizationId == message.username,
            "PLAIN: accepted an authorization id for another user")
    }

    private static func serverFirst(_ bytes: [UInt8]) {
        guard let first = try? ScramMessages.parseServerFirst(bytes) else { return }
        fuzzCheck(
            first.iterations >= ScramMechanism.minIterations && first.iterations <= ScramMechanism.maxIterations,
            "server-first: \(first.iterations) iterations accepted")
        let rebuilt = ScramMessages.serverFirst(nonce: first.nonce, salt: first.salt, iterations: first.iterations)
        guard let again = try? ScramMessages.parseServerFirst(Array(rebuilt.utf8)) else {
            fuzzFail("server-first: its own formatting does not parse")
        }
        fuzzCheck(
            again.nonce == first.nonce && again.salt == first.salt && again.iterations == first.iterations,
            "server-first: format∘parse changed the message")
    }

    private static func exchange(_ bytes: [UInt8]) {
        let split = bytes.firstIndex(of: 0) ?? bytes.count
        var server = ScramServer(mechanism: .sha256, serverNonce: serverNonce, fakeCredentialKey: [9, 9, 9, 9])
        guard
            let reply = try? server.receiveClientFirst(Array(bytes[..<split]), lookup: { $0 == "alice" ? alice : nil })
        else {
            fuzzCheck(server.isComplete && server.authenticatedUser == nil, "a refused client-first left it open")
            return
        }
        guard (try? ScramMessages.parseServerFirst(reply)) != nil else {
            fuzzFail("the server's server-first does not parse on the client")
        }
        let final = split < bytes.count ? Array(bytes[(split + 1)...]) : []
        let signed = try? server.receiveClientFinal(final)
        fuzzCheck(server.isComplete, "the exchange is not over after client-final")
        // Only a proof made from alice's password authenticates, and only as alice.
        if signed != nil { fuzzCheck(server.authenticatedUser == "alice", "authenticated an unknown user") }
        fuzzCheck((signed != nil) == (server.authenticatedUser != nil), "success without a user or the reverse")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let first = ScramMessages.clientFirst(username: "alice", nonce: "fyko+d2lbbFgONRv9qkxdawL")
        let final256 =
            ScramMessages.clientFinalWithoutProof(gs2Header: "n,,", nonce: "fyko+d2lbbFgONRv9qkxdawL" + serverNonce)
            + ",p=" + Base64.encode(Array(repeating: 0x5A, count: 32))
        let final512 =
            ScramMessages.clientFinalWithoutProof(gs2Header: "n,,", nonce: "abc")
            + ",p=" + Base64.encode(Array(repeating: 0xA5, count: 64))
        return [
            ("client-first", [0] + first.message),
            ("client-first-authzid", [0] + Array("y,a=b=2Cob,n=b=2Cob,r=xyz".utf8)),
            ("client-final-256", [1] + Array(final256.utf8)),
            ("client-final-512", [2] + Array(final512.utf8)),
            ("plain", [3] + PlainMessage(authorizationId: "alice", username: "alice", password: "pw").encoded),
            (
                "server-first",
                [4] + Array(ScramMessages.serverFirst(nonce: "abcdef", salt: [1, 2, 3, 4, 5], iterations: 4096).utf8)
            ),
            ("exchange", [5] + first.message + [0] + Array(final256.utf8)),
        ].map { (name: $0.0, bytes: $0.1) }
    }
}
