import Synchronization
import TernNet
import TernWire

/// The open connections that authenticated through SASL, by user, each with the stored
/// credential it authenticated with: what a committed deletion or change of a user's SCRAM
/// credential ends. Indexed by user so that a change finds that user's connections without
/// scanning every connection; touched when a login succeeds, when a connection closes and when
/// credentials change — never per request.
final class SaslSessionRegistry: Sendable {
    /// One authenticated connection.
    struct Session: Sendable {
        let connection: ServerConnection
        /// The mechanism the client used (`SCRAM-SHA-256`, `SCRAM-SHA-512`, `PLAIN`).
        let mechanism: String
        /// The credential the login was checked against (for PLAIN, a SCRAM credential).
        let credential: ScramCredential
    }

    private struct State {
        var byUser: [String: [UInt64: Session]] = [:]
        var userOf: [UInt64: String] = [:]
    }

    private let state = Mutex(State())

    /// Records `connection` as authenticated as `user`.
    func add(user: String, _ session: Session) {
        state.withLock { state in
            let id = session.connection.id
            state.byUser[user, default: [:]][id] = session
            state.userOf[id] = user
        }
    }

    /// Forgets a closed connection (nothing when it never authenticated).
    func remove(_ connectionId: UInt64) {
        state.withLock { state in
            guard let user = state.userOf.removeValue(forKey: connectionId) else { return }
            state.byUser[user]?[connectionId] = nil
            if state.byUser[user]?.isEmpty == true { state.byUser[user] = nil }
        }
    }

    /// Takes out and returns `user`'s sessions whose credential `isCurrent` rejects (the caller
    /// closes them).
    func revoke(user: String, isCurrent: (ScramCredential) -> Bool) -> [Session] {
        state.withLock { state in
            guard let sessions = state.byUser[user] else { return [] }
            var revoked: [Session] = []
            for (id, session) in sessions where !isCurrent(session.credential) {
                revoked.append(session)
                state.byUser[user]?[id] = nil
                state.userOf[id] = nil
            }
            if state.byUser[user]?.isEmpty == true { state.byUser[user] = nil }
            return revoked
        }
    }

    /// Authenticated connections open now (tests and diagnostics).
    var count: Int { state.withLock { $0.userOf.count } }
}
