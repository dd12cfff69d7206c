import TernWire

extension MetadataImage {
    /// Sorted user names that have at least one SCRAM credential.
    public var scramUsers: [String] { scramCredentials.keys.sorted() }

    /// The credential `user` has for `mechanism`, if any.
    public func scramCredential(user: String, mechanism: ScramMechanism) -> ScramCredential? {
        scramCredentials[user]?[mechanism]
    }

    /// The records that rebuild ``scramCredentials``: by user, then mechanism name.
    var scramCredentialRecords: [MetadataRecord] {
        var out: [MetadataRecord] = []
        for user in scramUsers {
            guard let byMechanism = scramCredentials[user] else { continue }
            for (_, credential) in byMechanism.sorted(by: { $0.key.name < $1.key.name }) {
                out.append(.userScramCredential(.init(name: user, credential: credential)))
            }
        }
        return out
    }

    /// Sets (creates or replaces) a credential; the fields must be ones a broker may use.
    mutating func applyScramCredential(_ record: UserScramCredentialRecord) throws {
        guard !record.name.isEmpty else {
            throw MetadataImageError(.invalid, "SCRAM credential with an empty user name")
        }
        if let reason = record.credential.invalidReason {
            throw MetadataImageError(.invalid, "SCRAM credential of \(record.name): \(reason)")
        }
        scramCredentials[record.name, default: [:]][record.credential.mechanism] = record.credential
    }

    mutating func applyRemoveScramCredential(_ record: RemoveUserScramCredentialRecord) throws {
        guard scramCredentials[record.name]?[record.mechanism] != nil else {
            throw MetadataImageError(
                .unknownEntity, "removal of unknown \(record.mechanism) credential of user \(record.name)")
        }
        scramCredentials[record.name]?[record.mechanism] = nil
        if scramCredentials[record.name]?.isEmpty == true { scramCredentials[record.name] = nil }
    }
}
