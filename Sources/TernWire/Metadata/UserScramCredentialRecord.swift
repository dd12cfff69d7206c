/// A user's SCRAM credential for one mechanism was set (created, or replaced by a password
/// change): Kafka's `UserScramCredentialRecord`. Holds what ``ScramCredential`` holds — salt,
/// StoredKey, ServerKey, iterations — never the password.
public struct UserScramCredentialRecord: Hashable, Sendable {
    public var name: String
    public var credential: ScramCredential

    public init(name: String, credential: ScramCredential) {
        self.name = name
        self.credential = credential
    }

    /// Kafka's `ScramMechanism` type numbers.
    static func code(of mechanism: ScramMechanism) -> UInt8 { mechanism == .sha512 ? 2 : 1 }

    static func mechanism(code: UInt8, _ what: String) throws -> ScramMechanism {
        switch code {
        case 1: return .sha256
        case 2: return .sha512
        default: throw WireError(.malformed, "\(what): unknown SCRAM mechanism \(code)")
        }
    }

    /// Salts and keys are at most this long (keys are 32 or 64 bytes; salts are 32 here).
    static let maxFieldBytes = 1024

    static func readField(_ reader: inout ByteReader, _ what: String) throws -> [UInt8] {
        let length = Int(try reader.readUInt16(what))
        guard length <= maxFieldBytes else { throw WireError(.malformed, "\(what): \(length) bytes") }
        return try reader.readBytes(count: length, what)
    }

    func encode(into writer: inout ByteWriter) {
        writer.writeString(name)
        writer.write(Self.code(of: credential.mechanism))
        for field in [credential.salt, credential.storedKey, credential.serverKey] {
            writer.write(UInt16(field.count))
            writer.write(contentsOf: field)
        }
        writer.write(Int32(clamping: credential.iterations))
    }

    static func decode(from reader: inout ByteReader) throws -> UserScramCredentialRecord {
        let name = try reader.readString("scram credential user")
        let what = "scram credential of \(name)"
        let mechanism = try mechanism(code: try reader.readUInt8(what), what)
        let salt = try readField(&reader, "\(what) salt")
        let storedKey = try readField(&reader, "\(what) stored key")
        let serverKey = try readField(&reader, "\(what) server key")
        let iterations = try reader.readInt32("\(what) iterations")
        guard iterations > 0 else { throw WireError(.malformed, "\(what): iterations \(iterations)") }
        return UserScramCredentialRecord(
            name: name,
            credential: ScramCredential(
                mechanism: mechanism, salt: salt, storedKey: storedKey, serverKey: serverKey,
                iterations: Int(iterations)))
    }
}

/// A user's SCRAM credential for one mechanism was deleted.
public struct RemoveUserScramCredentialRecord: Hashable, Sendable {
    public var name: String
    public var mechanism: ScramMechanism

    public init(name: String, mechanism: ScramMechanism) {
        self.name = name
        self.mechanism = mechanism
    }

    func encode(into writer: inout ByteWriter) {
        writer.writeString(name)
        writer.write(UserScramCredentialRecord.code(of: mechanism))
    }

    static func decode(from reader: inout ByteReader) throws -> RemoveUserScramCredentialRecord {
        let name = try reader.readString("removed scram credential user")
        let what = "removed scram credential of \(name)"
        return RemoveUserScramCredentialRecord(
            name: name, mechanism: try UserScramCredentialRecord.mechanism(code: try reader.readUInt8(what), what))
    }
}
