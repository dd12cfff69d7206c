import Logging
import TernWire

extension ActiveController {
    /// AlterUserScramCredentials, on the queue: decided against the working image
    /// (``ControllerDecisions/alterScramCredentials(_:_:)``), proposed, and answered once
    /// committed with the entry's offset (-1 when nothing was proposed), so a created user can
    /// log in on every broker that has applied the entry. The one entry point for this API on the
    /// controller: a client's request forwarded by any broker (``ForwardedApis``) and a node's
    /// bootstrap users both end here.
    func alterScramCredentials(
        _ request: AlterUserScramCredentialsRequest,
        reply: @escaping @Sendable (AlterUserScramCredentialsResponse, Int64) -> Void
    ) {
        proposeAndReply(
            decide({ ControllerDecisions.alterScramCredentials($0, request) }), records: \.records,
            what: { "SCRAM credentials of \($0.changedUsers.sorted())" },
            refused: { reply(request.failed($0.code, $0.message), -1) },
            failed: { change, error in
                let (code, message) = Self.quorumFailure(error)
                reply(
                    .init(
                        results: change.response.results.map { result in
                            guard change.changedUsers.contains(result.user) else { return result }
                            return .init(user: result.user, errorCode: code, errorMessage: message)
                        }), -1)
            },
            committed: { self.logScramChange($0) }
        ) { change, offset in reply(change.response, offset) }
    }

    /// The users of `sasl.bootstrap.users.file` that do not exist yet in the working image, one
    /// credential per enabled SCRAM mechanism, proposed as one entry; `completion` gets the users
    /// created (empty when every one existed) once committed.
    func createBootstrapUsers(
        _ entries: [SaslBootstrapUsers.Entry], mechanisms: [ScramMechanism],
        completion: @escaping @Sendable (Result<[String], ControllerError>) -> Void
    ) {
        proposeAndReply(
            decide({ SaslBootstrapUsers.records(for: entries, mechanisms: mechanisms, image: $0) }), records: { $0 },
            what: { "bootstrap users \(Self.usersCreated(by: $0))" }, refused: { completion(.failure($0)) },
            failed: { _, error in completion(.failure(ControllerError(.notController, "\(error)"))) }
        ) { records, _ in completion(.success(Self.usersCreated(by: records))) }
    }

    /// The users `records` set a credential of, sorted.
    private static func usersCreated(by records: [MetadataRecord]) -> [String] {
        Set(
            records.compactMap { record -> String? in
                if case .userScramCredential(let credential) = record { return credential.name }
                return nil
            }
        ).sorted()
    }

    private func logScramChange(_ change: ControllerDecisions.CredentialChange) {
        for record in change.records {
            switch record {
            case .userScramCredential(let set):
                logger.info(
                    "SCRAM credential set",
                    metadata: ["tern_user": "\(set.name)", "tern_mechanism": "\(set.credential.mechanism)"])
            case .removeUserScramCredential(let removed):
                logger.info(
                    "SCRAM credential deleted",
                    metadata: ["tern_user": "\(removed.name)", "tern_mechanism": "\(removed.mechanism)"])
            default: break
            }
        }
    }

    /// Every user a request names, in first-mention order.
    static func usersNamed(in request: AlterUserScramCredentialsRequest) -> [String] {
        var seen: Set<String> = []
        return (request.deletions.map(\.user) + request.upsertions.map(\.user)).filter { seen.insert($0).inserted }
    }
}
