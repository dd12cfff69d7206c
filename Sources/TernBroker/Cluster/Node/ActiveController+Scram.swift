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
        let users = Self.usersNamed(in: request)
        switch decide({ ControllerDecisions.alterScramCredentials($0, request) }) {
        case .failure(let error):
            reply(
                .init(results: users.map { .init(user: $0, errorCode: error.code, errorMessage: error.message) }), -1)
        case .success(let change) where change.records.isEmpty:
            reply(change.response, -1)
        case .success(let change):
            propose(change.records, what: "SCRAM credentials of \(change.changedUsers.sorted())") { result in
                let error: QuorumError
                switch result {
                case .success(let offset):
                    self.logScramChange(change)
                    return reply(change.response, offset)
                case .failure(let failure): error = failure
                }
                let failed = Self.failure(error, AlterUserScramCredentialsResponse.Result.self) { code, message in
                    AlterUserScramCredentialsResponse.Result(user: "", errorCode: code, errorMessage: message)
                }
                reply(
                    .init(
                        results: change.response.results.map { result in
                            guard change.changedUsers.contains(result.user) else { return result }
                            return .init(
                                user: result.user, errorCode: failed.errorCode, errorMessage: failed.errorMessage)
                        }), -1)
            }
        }
    }

    /// The users of `sasl.bootstrap.users.file` that do not exist yet in the working image, one
    /// credential per enabled SCRAM mechanism, proposed as one entry; `completion` gets the users
    /// created (empty when every one existed) once committed.
    func createBootstrapUsers(
        _ entries: [SaslBootstrapUsers.Entry], mechanisms: [ScramMechanism],
        completion: @escaping @Sendable (Result<[String], ControllerError>) -> Void
    ) {
        switch decide({ SaslBootstrapUsers.records(for: entries, mechanisms: mechanisms, image: $0) }) {
        case .failure(let error):
            completion(.failure(error))
        case .success(let records) where records.isEmpty:
            completion(.success([]))
        case .success(let records):
            let users = Array(
                Set(
                    records.compactMap { record -> String? in
                        if case .userScramCredential(let credential) = record { return credential.name }
                        return nil
                    })
            ).sorted()
            propose(records, what: "bootstrap users \(users)") { result in
                switch result {
                case .success: completion(.success(users))
                case .failure(let error): completion(.failure(ControllerError(.notController, "\(error)")))
                }
            }
        }
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
