/// DescribeUserScramCredentials (key 50): which SCRAM mechanisms (and iteration counts) users have
/// credentials for, as Kafka's. Never salts or keys. `users` nil lists every user.
public struct DescribeUserScramCredentialsRequest: WireRequest, Hashable {
    public typealias Response = DescribeUserScramCredentialsResponse
    public static let apiKey = ApiKey.describeUserScramCredentials
    /// The users to describe; nil = all.
    public var users: [String]?

    public init(users: [String]? = nil) { self.users = users }

    public init(from reader: inout ByteReader) throws {
        if try reader.readBool("users present") {
            users = try reader.readArray("users", minElementSize: 2) { try $0.readString("user") }
        } else {
            users = nil
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(users != nil)
        if let users { writer.writeArray(users) { $0.writeString($1) } }
    }
}

/// The answer to ``DescribeUserScramCredentialsRequest``: one result per user asked for (or per
/// user that exists), sorted by name; an unknown user asked for by name gets RESOURCE_NOT_FOUND.
public struct DescribeUserScramCredentialsResponse: WireResponse, Hashable {
    /// One mechanism a user has a credential for.
    public struct CredentialInfo: Hashable, Sendable {
        public var mechanism: ScramMechanism
        public var iterations: Int32

        public init(mechanism: ScramMechanism, iterations: Int32) {
            self.mechanism = mechanism
            self.iterations = iterations
        }
    }

    /// One user's answer.
    public struct Result: Hashable, Sendable {
        public var user: String
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var credentials: [CredentialInfo]

        public init(
            user: String, errorCode: ErrorCode = .none, errorMessage: String? = nil, credentials: [CredentialInfo]
        ) {
            self.user = user
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.credentials = credentials
        }
    }

    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var results: [Result]

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, results: [Result]) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.results = results
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        results = try reader.readArray("results", minElementSize: 8) { reader in
            let user = try reader.readString("user")
            let code = ErrorCode(rawValue: try reader.readInt16("errorCode"))
            let message = try reader.readNullableString("errorMessage")
            let credentials = try reader.readArray("credentials", minElementSize: 5) { reader in
                CredentialInfo(
                    mechanism: try ScramMechanism.readWireType(&reader),
                    iterations: try reader.readInt32("iterations"))
            }
            return Result(user: user, errorCode: code, errorMessage: message, credentials: credentials)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeArray(results) { writer, result in
            writer.writeString(result.user)
            writer.write(result.errorCode.rawValue)
            writer.writeNullableString(result.errorMessage)
            writer.writeArray(result.credentials) { writer, info in
                writer.write(info.mechanism.wireType)
                writer.write(info.iterations)
            }
        }
    }
}
