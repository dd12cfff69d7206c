import CoreMetrics
import Synchronization
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// The metrics of one API: requests, errors by code and latency (docs/operations.md lists them).
/// Made once per API when the broker starts, so counting a request is two atomic adds.
final class ApiMetrics: Sendable {
    /// The `api` label: the API's name (`Produce`), or `unknown` for keys this build does not
    /// serve (so a hostile client cannot mint a label per key).
    let api: String
    private let requests: Counter
    private let latency: CoreMetrics.Timer
    private let errors: Mutex<[Int16: Counter]> = Mutex([:])

    init(api: String) {
        self.api = api
        requests = Counter(label: "tern_requests_total", dimensions: [("api", api)])
        latency = CoreMetrics.Timer(label: "tern_request_duration_seconds", dimensions: [("api", api)])
    }

    /// A request arrived.
    func received() { requests.increment() }

    /// A request was answered `nanoseconds` after it arrived.
    func completed(afterNanoseconds nanoseconds: UInt64) {
        latency.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// A request (or one partition of it) was answered with `code`. Codes come from the broker,
    /// never from the peer, so the label set stays small.
    func failed(_ code: ErrorCode) {
        let counter = errors.withLock { errors in
            if let counter = errors[code.rawValue] { return counter }
            let counter = Counter(
                label: "tern_request_errors_total", dimensions: [("api", api), ("error", code.name)])
            errors[code.rawValue] = counter
            return counter
        }
        counter.increment()
    }
}

/// Every API's ``ApiMetrics``.
struct RequestMetrics: Sendable {
    private let byKey: [UInt16: ApiMetrics]
    private let unknown = ApiMetrics(api: "unknown")

    init() {
        var byKey: [UInt16: ApiMetrics] = [:]
        for api in ApiKey.supported { byKey[api.key.rawValue] = ApiMetrics(api: api.key.name) }
        self.byKey = byKey
    }

    /// The metrics an API's requests count in.
    func callAsFunction(_ key: ApiKey) -> ApiMetrics { byKey[key.rawValue] ?? unknown }

    /// Monotonic nanoseconds, for request latency.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
