/// AlterUserScramCredentials (key 51): deletes and sets (upserts) users' SCRAM credentials, as
/// Kafka's. The client sends the salt and the *salted* password (Hi(password, salt, i)), computed
/// on its side: the password never reaches the broker, which derives StoredKey and ServerKey.
public struct AlterUserScramCredentialsRequest: WireRequest, Hashable {
    public typealias Response = AlterUserScramCredentialsResponse
    public static let apiKey = ApiKey.alterUserScramCredentials

    /// Removes `user`'s credential for `mechanism`.
    public struct Deletion: Hashable, Sendable {
        public var user: String
        public var mechanism: ScramMechanism

        public init(user: String, mechanism: ScramMechanism) {
            self.user = user
            self.mechanism = mechanism
        }
    }

    /// Sets `user`'s credential for `mechanism`.
    public struct Upsertion: Hashable, Sendable {
        public var user: String
        public var mechanism: ScramMechanism
        public var iterations: Int32
        public var salt: [UInt8]
        /// Hi(password, salt, iterations) with the mechanism's HMAC.
        public var saltedPassword: [UInt8]

        public init(user: String, mechanism: ScramMechanism, iterations: Int32, salt: [UInt8], saltedPassword: [UInt8])
        {
            self.user = user
            self.mechanism = mechanism
            self.iterations = iterations
            self.salt = salt
            self.saltedPassword = saltedPassword
        }

        /// An upsertion for `password`, salted here with a fresh random 32-byte salt.
        public init(user: String, mechanism: ScramMechanism, password: String, iterations: Int) {
            let salt = ScramMechanism.randomBytes(32)
            self.init(
                user: user, mechanism: mechanism, iterations: Int32(clamping: iterations), salt: salt,
                saltedPassword: mechanism.saltedPassword(Array(password.utf8), salt: salt, iterations: iterations))
        }
    }

    public var deletions: [Deletion]
    public var upsertions: [Upsertion]

    public init(deletions: [Deletion] = [], upsertions: [Upsertion] = []) {
        self.deletions = deletions
        self.upsertions = upsertions
    }

    /// Salts and salted passwords longer than this are refused by the decoder.
    static let maxFieldBytes = 1024

    public init(from reader: inout ByteReader) throws {
        deletions = try reader.readArray("deletions", minElementSize: 3) { reader in
            Deletion(user: try reader.readString("user"), mechanism: try ScramMechanism.readWireType(&reader))
        }
        upsertions = try reader.readArray("upsertions", minElementSize: 15) { reader in
            let user = try reader.readString("user")
            let mechanism = try ScramMechanism.readWireType(&reader)
            let iterations = try reader.readInt32("iterations")
            guard let salt = try reader.readNullableBytes("salt"), salt.count <= Self.maxFieldBytes,
                let salted = try reader.readNullableBytes("saltedPassword"), salted.count <= Self.maxFieldBytes
            else {
                throw WireError(.malformed, "upsertion of \(user): salt and saltedPassword must be 0 to 1024 bytes")
            }
            return Upsertion(
                user: user, mechanism: mechanism, iterations: iterations, salt: salt, saltedPassword: salted)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(deletions) { writer, deletion in
            writer.writeString(deletion.user)
            writer.write(deletion.mechanism.wireType)
        }
        writer.writeArray(upsertions) { writer, upsertion in
            writer.writeString(upsertion.user)
            writer.write(upsertion.mechanism.wireType)
            writer.write(upsertion.iterations)
            writer.writeNullableBytes(upsertion.salt)
            writer.writeNullableBytes(upsertion.saltedPassword)
        }
    }
}

/// The answer to ``AlterUserScramCredentialsRequest``: one result per user named in the request
/// (in first-mention order); a user's changes apply all together or not at all.
public struct AlterUserScramCredentialsResponse: WireResponse, Hashable {
    public struct Result: Hashable, Sendable {
        public var user: String
        public var errorCode: ErrorCode
        public var errorMessage: String?

        public init(user: String, errorCode: ErrorCode = .none, errorMessage: String? = nil) {
            self.user = user
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    public var results: [Result]

    public init(results: [Result]) { self.results = results }

    public init(from reader: inout ByteReader) throws {
        results = try reader.readArray("results", minElementSize: 6) { reader in
            Result(
                user: try reader.readString("user"), errorCode: ErrorCode(rawValue: try reader.readInt16("errorCode")),
                errorMessage: try reader.readNullableString("errorMessage"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(results) { writer, result in
            writer.writeString(result.user)
            writer.write(result.errorCode.rawValue)
            writer.writeNullableString(result.errorMessage)
        }
    }
}
