/// The four SCRAM messages (RFC 5802 section 7), parsed strictly: attributes in the RFC's order,
/// no unknown extensions, no mandatory-extension `m=`, no channel binding other than none.
public enum ScramMessages {
    /// Longest client message a server parses; real ones are about 100 bytes.
    public static let maxMessageSize = 1024

    /// `client-first-message`: gs2 header then `n=USER,r=NONCE`.
    public struct ClientFirst: Hashable, Sendable {
        /// The gs2 header exactly as sent (`n,,` or `y,,`, optionally with `a=AUTHZID`).
        public var gs2Header: String
        public var username: String
        public var authorizationId: String?
        public var nonce: String
        /// `client-first-message-bare`, part of AuthMessage.
        public var bare: String
    }

    /// `server-first-message`.
    public struct ServerFirst: Hashable, Sendable {
        public var nonce: String
        public var salt: [UInt8]
        public var iterations: Int
        public var text: String
    }

    /// `client-final-message`.
    public struct ClientFinal: Hashable, Sendable {
        public var channelBinding: String
        public var nonce: String
        public var proof: [UInt8]
        /// `client-final-message-without-proof`, part of AuthMessage.
        public var withoutProof: String
    }

    static func text(_ bytes: [UInt8]) throws(SaslFailure) -> String {
        guard bytes.count <= maxMessageSize else { throw SaslFailure("message of \(bytes.count) bytes") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw SaslFailure("message is not UTF-8") }
        return text
    }

    /// Splits `text` at commas into attributes that must carry exactly `names`, in that order.
    static func attributes(_ text: Substring, _ names: [Character], _ what: String) throws(SaslFailure) -> [Substring] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == names.count else { throw SaslFailure("\(what): \(parts.count) attributes") }
        var values: [Substring] = []
        for (part, name) in zip(parts, names) {
            guard part.count >= 2, part.first == name, part.dropFirst().first == "=" else {
                throw SaslFailure("\(what): expected attribute \(name)")
            }
            values.append(part.dropFirst(2))
        }
        return values
    }

    /// A nonce: printable ASCII except ','.
    static func isValidNonce(_ nonce: Substring) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }

    /// saslname: `=2C` is ',', `=3D` is '='; any other '=' (or a raw ',') is invalid.
    public static func decodeName(_ encoded: Substring) -> String? {
        var out = ""
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let char = encoded[index]
            if char == "," { return nil }
            if char == "=" {
                let escape = encoded[index...].prefix(3)
                if escape == "=2C" {
                    out.append(",")
                } else if escape == "=3D" {
                    out.append("=")
                } else {
                    return nil
                }
                index = encoded.index(index, offsetBy: 3)
            } else {
                out.append(char)
                index = encoded.index(after: index)
            }
        }
        return out.isEmpty ? nil : out
    }

    /// The saslname form of `name`.
    public static func encodeName(_ name: String) -> String {
        var out = ""
        for char in name {
            switch char {
            case ",": out += "=2C"
            case "=": out += "=3D"
            default: out.append(char)
            }
        }
        return out
    }

    /// Parses a client-first message.
    public static func parseClientFirst(_ bytes: [UInt8]) throws(SaslFailure) -> ClientFirst {
        let text = try text(bytes)
        // gs2-header = cbind-flag "," [authzid] ","; channel binding ("p=") is not offered.
        let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SaslFailure("client-first: no gs2 header") }
        guard parts[0] == "n" || parts[0] == "y" else { throw SaslFailure("client-first: channel binding flag") }
        var authzid: String?
        if !parts[1].isEmpty {
            guard parts[1].hasPrefix("a="), let name = decodeName(parts[1].dropFirst(2)) else {
                throw SaslFailure("client-first: authzid")
            }
            authzid = name
        }
        let bare = parts[2]
        let values = try attributes(bare, ["n", "r"], "client-first")
        guard let username = decodeName(values[0]) else { throw SaslFailure("client-first: user name") }
        guard isValidNonce(values[1]) else { throw SaslFailure("client-first: nonce") }
        let gs2Header = String(text.prefix(parts[0].count + parts[1].count + 2))
        return ClientFirst(
            gs2Header: gs2Header, username: username, authorizationId: authzid, nonce: String(values[1]),
            bare: String(bare))
    }

    /// Formats a client-first message (no channel binding, no authzid).
    public static func clientFirst(username: String, nonce: String) -> (
        message: [UInt8], bare: String, gs2Header: String
    ) {
        let bare = "n=\(encodeName(username)),r=\(nonce)"
        return (Array("n,,\(bare)".utf8), bare, "n,,")
    }

    /// Formats a server-first message.
    public static func serverFirst(nonce: String, salt: [UInt8], iterations: Int) -> String {
        "r=\(nonce),s=\(Base64.encode(salt)),i=\(iterations)"
    }

    /// Parses a server-first message (client side), refusing iteration counts outside Kafka's range.
    public static func parseServerFirst(_ bytes: [UInt8]) throws(SaslFailure) -> ServerFirst {
        let text = try text(bytes)
        let values = try attributes(Substring(text), ["r", "s", "i"], "server-first")
        guard isValidNonce(values[0]) else { throw SaslFailure("server-first: nonce") }
        guard let salt = Base64.decode(values[1]), !salt.isEmpty else { throw SaslFailure("server-first: salt") }
        guard values[2].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), values[2].count <= 9,
            let iterations = Int(values[2]),
            iterations >= ScramMechanism.minIterations, iterations <= ScramMechanism.maxIterations
        else { throw SaslFailure("server-first: iteration count \(values[2])") }
        return ServerFirst(nonce: String(values[0]), salt: salt, iterations: iterations, text: text)
    }

    /// Parses a client-final message; `digestSize` is the proof's required length.
    public static func parseClientFinal(_ bytes: [UInt8], digestSize: Int) throws(SaslFailure) -> ClientFinal {
        let text = try text(bytes)
        let values = try attributes(Substring(text), ["c", "r", "p"], "client-final")
        guard isValidNonce(values[1]) else { throw SaslFailure("client-final: nonce") }
        guard let proof = Base64.decode(values[2]), proof.count == digestSize else {
            throw SaslFailure("client-final: proof")
        }
        return ClientFinal(
            channelBinding: String(values[0]), nonce: String(values[1]), proof: proof,
            withoutProof: "c=\(values[0]),r=\(values[1])")
    }

    /// Formats a client-final message without its proof.
    public static func clientFinalWithoutProof(gs2Header: String, nonce: String) -> String {
        "c=\(Base64.encode(Array(gs2Header.utf8))),r=\(nonce)"
    }
}
