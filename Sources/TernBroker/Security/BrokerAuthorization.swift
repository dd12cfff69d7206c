import CoreMetrics
import Logging
import Synchronization
import TernWire

/// The broker's authorizer as requests use it: `authorizer.enable`, the ``Authorizer`` of the
/// committed image's ACLs (rebuilt when a committed entry changes them, never per request), the
/// rate-limited denial log and the denial counter.
///
/// With `authorizer.enable = false` the router tests ``enabled`` once per request and nothing
/// else here runs.
final class BrokerAuthorization: Sendable {
    /// `authorizer.enable`.
    let enabled: Bool
    let configuration: AuthorizerConfiguration
    private let current: Mutex<Authorizer>
    /// Whether this broker's image has caught up with the committed metadata log once (the
    /// controller unfenced it). Until then the image may lack bindings — a DENY among them — so
    /// requests are decided by ``closed``: super users only, whatever
    /// `allow.everyone.if.no.acl.found` says. Fail closed for the milliseconds of a start-up.
    private let caughtUp = Atomic<Bool>(false)
    private let closed: Authorizer
    private let denials: AuthorizationDenialLogger
    /// `tern_authorization_denied_total{resource_type}`, made once (three resource types).
    private let deniedCounters: [AclResourceType: Counter]

    init(configuration: AuthorizerConfiguration, logger: Logger) {
        enabled = configuration.enabled
        self.configuration = configuration
        current = Mutex(Authorizer(acls: [], configuration: configuration))
        var superUsersOnly = configuration
        superUsersOnly.allowEveryoneIfNoAclFound = false
        closed = Authorizer(acls: [], configuration: superUsersOnly)
        denials = AuthorizationDenialLogger(logger: logger)
        var counters: [AclResourceType: Counter] = [:]
        for type in [AclResourceType.topic, .group, .cluster] {
            counters[type] = Counter(
                label: "tern_authorization_denied_total", dimensions: [("resource_type", "\(type)")])
        }
        deniedCounters = counters
    }

    /// The authorizer of the image last published.
    var authorizer: Authorizer { current.withLock { $0 } }

    /// Called with each newly committed image: rebuilds the authorizer when its ACLs differ from
    /// the ones the current authorizer was built from (most entries change brokers or topics).
    func imageChanged(before: MetadataImage, after: MetadataImage) {
        guard enabled, before.acls != after.acls else { return }
        let rebuilt = Authorizer(image: after, configuration: configuration)
        current.withLock { $0 = rebuilt }
    }

    /// What one request is checked with: nil when the authorizer is off.
    /// - Parameter isCaughtUp: whether the image has caught up with the committed log (asked
    ///   until it says yes once).
    func access(principal: String, host: String, api: ApiKey, isCaughtUp: () -> Bool) -> RequestAccess? {
        guard enabled else { return nil }
        if !caughtUp.load(ordering: .acquiring) {
            guard isCaughtUp() else {
                return RequestAccess(authorizer: closed, principal: principal, host: host, api: api, owner: self)
            }
            caughtUp.store(true, ordering: .releasing)
        }
        return RequestAccess(authorizer: authorizer, principal: principal, host: host, api: api, owner: self)
    }

    /// Counts a denial and logs it (rate-limited).
    func denied(
        principal: String, host: String, operation: AclOperation, resource: AuthorizedResource,
        decision: AuthorizationDecision, api: ApiKey
    ) {
        deniedCounters[resource.type]?.increment()
        denials.denied(
            principal: principal, host: host, operation: operation, resource: resource, decision: decision, api: api)
    }
}

/// One request's authorization: who asks, from where, and the authorizer that was current when
/// the request arrived (a request is decided against one image even if ACLs change meanwhile).
/// A class so that ``RequestContext``, copied into every handler's closures, grows by one
/// pointer (nil with the authorizer off), not by an authorizer's worth of fields.
final class RequestAccess: Sendable {
    let authorizer: Authorizer
    let principal: String
    let host: String
    let api: ApiKey
    let owner: BrokerAuthorization

    init(authorizer: Authorizer, principal: String, host: String, api: ApiKey, owner: BrokerAuthorization) {
        self.authorizer = authorizer
        self.principal = principal
        self.host = host
        self.api = api
        self.owner = owner
    }

    /// Whether `check` passes; a failure is counted and logged.
    func passes(_ check: AuthorizationCheck) -> Bool {
        let decision = authorizer.evaluate(check, principal: principal, host: host)
        if decision.isAllowed { return true }
        owner.denied(
            principal: principal, host: host, operation: check.operation, resource: check.resource,
            decision: decision, api: api)
        return false
    }

    /// Whether the principal may perform `operation` on `resource`; a denial is counted and logged.
    func allows(_ operation: AclOperation, _ resource: AuthorizedResource) -> Bool {
        passes(AuthorizationCheck(operation, resource, .none, .resource))
    }

    /// Whether a resource of a listing stays in the response. A resource left out is not a
    /// denial the client asked for: neither counted nor logged (Kafka logs those at debug).
    func keeps(_ name: String, _ filter: ListingFilter) -> Bool {
        authorizer.keeps(name, in: filter, principal: principal, host: host)
    }
}
