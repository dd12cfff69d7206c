import TernWire

/// A SCRAM user as the cluster stores it: the mechanisms it has a credential for and their
/// iteration counts (never salts or keys).
public struct UserDescription: Hashable, Sendable {
    /// One mechanism's credential.
    public struct Credential: Hashable, Sendable {
        public var mechanism: ScramMechanism
        public var iterations: Int
    }

    public var name: String
    /// Sorted: SCRAM-SHA-256 before SCRAM-SHA-512.
    public var credentials: [Credential]
}

extension TernAdmin {
    /// Creates `name`'s credential for `mechanism`, or replaces it (a password change). The
    /// password is salted and hashed here (`iterations` rounds of PBKDF2, a random 32-byte salt):
    /// only the salted password crosses the network, and the broker keeps StoredKey and ServerKey.
    /// Any broker takes the request (it forwards it to the active controller); it returns once
    /// the broker that answered has applied the commit, so the user can log in there at once.
    /// - Throws: ``TernError`` with the broker's code: UNACCEPTABLE_CREDENTIAL (iterations outside
    ///   4096...16384, empty name), CLUSTER_AUTHORIZATION_FAILED, REQUEST_TIMED_OUT or
    ///   NOT_CONTROLLER naming the lost metadata quorum.
    public func createUser(
        name: String, password: String, mechanism: ScramMechanism = .sha256,
        iterations: Int = ScramMechanism.minIterations
    ) async throws {
        guard !password.isEmpty, password.utf8.count <= 255, !password.utf8.contains(0) else {
            throw TernError(.invalidArgument, "the password must be 1 to 255 bytes without NUL")
        }
        guard (ScramMechanism.minIterations...ScramMechanism.maxIterations).contains(iterations) else {
            throw TernError(
                .invalidArgument,
                "iterations must be \(ScramMechanism.minIterations) to \(ScramMechanism.maxIterations), got \(iterations)"
            )
        }
        let request = AlterUserScramCredentialsRequest(upsertions: [
            .init(user: name, mechanism: mechanism, password: password, iterations: iterations)
        ])
        try Self.check(try await sendToController(request), user: name, action: "create user")
    }

    /// Deletes `name`'s credentials: those of `mechanisms`, or every one it has when nil (the
    /// user then no longer exists). New connections as the user fail from the commit on;
    /// connections already authenticated stay open until they close.
    /// - Throws: ``TernError`` RESOURCE_NOT_FOUND when the user (or the named credential) does
    ///   not exist.
    public func deleteUser(name: String, mechanisms: [ScramMechanism]? = nil) async throws {
        let chosen: [ScramMechanism]
        if let mechanisms {
            chosen = mechanisms
        } else {
            guard let user = try await describeUsers(names: [name]).first else {
                throw TernError.broker(.resourceNotFound, "user \(name) does not exist", context: "delete user")
            }
            chosen = user.credentials.map(\.mechanism)
        }
        let request = AlterUserScramCredentialsRequest(deletions: chosen.map { .init(user: name, mechanism: $0) })
        try Self.check(try await sendToController(request), user: name, action: "delete user")
    }

    /// Every SCRAM user, sorted by name.
    public func listUsers() async throws -> [UserDescription] { try await describeUsers(names: nil) }

    /// The users named (nil: all); an unknown name fails with RESOURCE_NOT_FOUND.
    public func describeUsers(names: [String]?) async throws -> [UserDescription] {
        let response = try await client.sendToAnyBroker(DescribeUserScramCredentialsRequest(users: names))
        guard response.errorCode == .none else {
            throw TernError.broker(response.errorCode, response.errorMessage, context: "describe users")
        }
        return try response.results.map { result in
            guard result.errorCode == .none else {
                throw TernError.broker(result.errorCode, result.errorMessage, context: "describe user \(result.user)")
            }
            return UserDescription(
                name: result.user,
                credentials: result.credentials.map { .init(mechanism: $0.mechanism, iterations: Int($0.iterations)) })
        }
    }

    static func check(_ response: AlterUserScramCredentialsResponse, user: String, action: String) throws {
        guard let result = response.results.first(where: { $0.user == user }) else {
            throw TernError(.protocolError, "\(action) '\(user)': the broker's response does not mention the user")
        }
        guard result.errorCode == .none else {
            throw TernError.broker(result.errorCode, result.errorMessage, context: "\(action) '\(user)'")
        }
    }
}
