import TernWire

extension ControllerDecisions {
    /// The records a SCRAM credential change proposes, with the answer to send once they commit.
    public struct CredentialChange: Hashable, Sendable {
        public var records: [MetadataRecord]
        public var response: AlterUserScramCredentialsResponse
        /// The users whose changes are in `records` (their results turn into errors if the
        /// proposal fails).
        public var changedUsers: Set<String>
    }

    /// AlterUserScramCredentials, as Kafka's controller decides it: each user's deletions and
    /// upsertions apply together or not at all. A user is refused with DUPLICATE_RESOURCE when a
    /// mechanism appears twice for them, UNACCEPTABLE_CREDENTIAL for an empty name, a salt or
    /// salted password of the wrong size or iterations outside 4096...16384, and
    /// RESOURCE_NOT_FOUND when a deletion names a credential that does not exist. The broker
    /// derives StoredKey and ServerKey from the salted password; the password never arrives.
    public static func alterScramCredentials(
        _ image: MetadataImage, _ request: AlterUserScramCredentialsRequest
    ) -> CredentialChange {
        var order: [String] = []
        var deletions: [String: [ScramMechanism]] = [:]
        var upsertions: [String: [AlterUserScramCredentialsRequest.Upsertion]] = [:]
        for deletion in request.deletions {
            if deletions[deletion.user] == nil && upsertions[deletion.user] == nil { order.append(deletion.user) }
            deletions[deletion.user, default: []].append(deletion.mechanism)
        }
        for upsertion in request.upsertions {
            if deletions[upsertion.user] == nil && upsertions[upsertion.user] == nil { order.append(upsertion.user) }
            upsertions[upsertion.user, default: []].append(upsertion)
        }
        var proposal = Proposal(image)
        var results: [AlterUserScramCredentialsResponse.Result] = []
        var changed: Set<String> = []
        for user in order {
            let removing = deletions[user] ?? []
            let setting = upsertions[user] ?? []
            let result = decide(user: user, removing: removing, setting: setting, proposal: &proposal)
            if result.errorCode == .none { changed.insert(user) }
            results.append(result)
        }
        return CredentialChange(
            records: proposal.records, response: AlterUserScramCredentialsResponse(results: results),
            changedUsers: changed)
    }

    private static func decide(
        user: String, removing: [ScramMechanism], setting: [AlterUserScramCredentialsRequest.Upsertion],
        proposal: inout Proposal
    ) -> AlterUserScramCredentialsResponse.Result {
        func refuse(_ code: ErrorCode, _ message: String) -> AlterUserScramCredentialsResponse.Result {
            .init(user: user, errorCode: code, errorMessage: message)
        }
        guard !user.isEmpty, user.utf8.count <= 255 else {
            return refuse(.unacceptableCredential, "user name must be 1 to 255 bytes")
        }
        let mechanisms = removing + setting.map(\.mechanism)
        guard Set(mechanisms).count == mechanisms.count else {
            return refuse(.duplicateResource, "a mechanism appears more than once for user \(user)")
        }
        var records: [MetadataRecord] = []
        for mechanism in removing {
            guard proposal.image.scramCredential(user: user, mechanism: mechanism) != nil else {
                return refuse(.resourceNotFound, "user \(user) has no \(mechanism) credential")
            }
            records.append(.removeUserScramCredential(.init(name: user, mechanism: mechanism)))
        }
        for upsertion in setting {
            let mechanism = upsertion.mechanism
            guard upsertion.saltedPassword.count == mechanism.digestSize else {
                return refuse(
                    .unacceptableCredential,
                    "salted password of \(upsertion.saltedPassword.count) bytes; \(mechanism) needs \(mechanism.digestSize)"
                )
            }
            let credential = ScramCredential(
                mechanism: mechanism, saltedPassword: upsertion.saltedPassword, salt: upsertion.salt,
                iterations: Int(upsertion.iterations))
            if let reason = credential.invalidReason { return refuse(.unacceptableCredential, reason) }
            records.append(.userScramCredential(.init(name: user, credential: credential)))
        }
        // All of the user's records or none: try them on a copy first.
        var trial = proposal
        do throws(ControllerError) {
            for record in records { try trial.add(record) }
        } catch {
            return refuse(error.code, error.message)
        }
        proposal = trial
        return .init(user: user)
    }

    /// DescribeUserScramCredentials: every user (sorted) when `users` is nil, else the users
    /// named, in request order; an unknown name answers RESOURCE_NOT_FOUND and a name asked twice
    /// DUPLICATE_RESOURCE, as Kafka does. Read-only: any broker answers from its image.
    public static func describeScramCredentials(
        _ image: MetadataImage, _ request: DescribeUserScramCredentialsRequest
    ) -> DescribeUserScramCredentialsResponse {
        let names = request.users ?? image.scramUsers
        var counts: [String: Int] = [:]
        for name in names { counts[name, default: 0] += 1 }
        var seen: Set<String> = []
        var results: [DescribeUserScramCredentialsResponse.Result] = []
        for name in names where seen.insert(name).inserted {
            if counts[name, default: 0] > 1 {
                results.append(
                    .init(
                        user: name, errorCode: .duplicateResource, errorMessage: "user \(name) asked for twice",
                        credentials: []))
                continue
            }
            guard let byMechanism = image.scramCredentials[name], !byMechanism.isEmpty else {
                results.append(
                    .init(
                        user: name, errorCode: .resourceNotFound, errorMessage: "no SCRAM credential for user \(name)",
                        credentials: []))
                continue
            }
            let infos = byMechanism.values.sorted { $0.mechanism.wireType < $1.mechanism.wireType }.map {
                DescribeUserScramCredentialsResponse.CredentialInfo(
                    mechanism: $0.mechanism, iterations: Int32(clamping: $0.iterations))
            }
            results.append(.init(user: name, credentials: infos))
        }
        return DescribeUserScramCredentialsResponse(results: results)
    }
}
