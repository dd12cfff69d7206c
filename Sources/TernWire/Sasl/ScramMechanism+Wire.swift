extension ScramMechanism {
    /// Kafka's `ScramMechanism` type number on the wire (1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512).
    public var wireType: Int8 { self == .sha512 ? 2 : 1 }

    /// The mechanism of a wire type number, if this build speaks it.
    public init?(wireType: Int8) {
        switch wireType {
        case 1: self = .sha256
        case 2: self = .sha512
        default: return nil
        }
    }

    /// Reads an i8 mechanism type; an unknown number is malformed.
    static func readWireType(_ reader: inout ByteReader) throws -> ScramMechanism {
        let code = try reader.readInt8("mechanism")
        guard let mechanism = ScramMechanism(wireType: code) else {
            throw WireError(.malformed, "mechanism: unknown SCRAM mechanism type \(code)")
        }
        return mechanism
    }
}

extension ScramCredential {
    /// The credential a broker stores for a salted password sent by a client
    /// (AlterUserScramCredentials): StoredKey = H(HMAC(salted, "Client Key")),
    /// ServerKey = HMAC(salted, "Server Key").
    public init(mechanism: ScramMechanism, saltedPassword: [UInt8], salt: [UInt8], iterations: Int) {
        self.init(
            mechanism: mechanism, salt: salt,
            storedKey: mechanism.hash(mechanism.hmac(key: saltedPassword, Array("Client Key".utf8))),
            serverKey: mechanism.hmac(key: saltedPassword, Array("Server Key".utf8)), iterations: iterations)
    }
}
