import Synchronization
import TernWire

/// A broker's copy of the committed cluster metadata: the entries of `__cluster_metadata`, applied
/// in offset order to a ``MetadataImage`` that request handlers read without waiting for the
/// writer.
///
/// An entry is one controller decision (a ``MetadataBatch``) and is applied whole or not at all.
/// An entry that does not decode, or whose records contradict the image, is refused whole; since
/// every broker applies the same committed sequence with the same code, every broker refuses it
/// identically and the images never diverge. (The active controller computes each decision
/// against its committed image plus its own uncommitted proposals, so a refusal means a bug or a
/// newer record version; it is reported, not hidden.)
public final class MetadataPublisher: Sendable {
    /// What one committed entry did to the image.
    public enum Outcome: Hashable, Sendable {
        /// Applied, with this many records (0 for a Raft control entry).
        case applied(records: Int)
        /// Refused whole, with the reason.
        case refused(String)
    }

    /// The image and the offset of the next entry it expects.
    public struct State: Hashable, Sendable {
        public var image: MetadataImage
        /// One past the last applied entry: the metadata offset this image reflects.
        public var nextOffset: Int64
    }

    /// What an ``apply(offset:entries:)`` changed.
    public struct Change: Sendable {
        public var before: MetadataImage
        public var after: MetadataImage
        /// One per entry handed in that was not applied before, in order, starting at `firstOffset`.
        public var outcomes: [Outcome]
        public var firstOffset: Int64
    }

    /// Refusals of the host's, not of the log's contents: entries handed out of order.
    public struct OrderError: Error, CustomStringConvertible {
        public var expected: Int64
        public var got: Int64
        public var description: String { "metadata entries from offset \(got) handed in; expected \(expected)" }
    }

    private let state: Mutex<State>

    /// Starts from `image` as of `nextOffset` (an empty image at 0, or a loaded snapshot).
    public init(image: MetadataImage = MetadataImage(), nextOffset: Int64 = 0) {
        state = Mutex(State(image: image, nextOffset: nextOffset))
    }

    /// The current image and its offset.
    public var current: State { state.withLock { $0 } }

    /// The current image.
    public var image: MetadataImage { state.withLock { $0.image } }

    /// Applies committed entries starting at `offset`. Entries below the next expected offset were
    /// applied before (a redelivery after a restart) and are skipped.
    /// - Throws: ``OrderError`` when `offset` is past the next expected offset (a gap): nothing
    ///   is applied.
    public func apply(offset: Int64, entries: [[UInt8]]) throws(OrderError) -> Change {
        try state.withLock { (state) throws(OrderError) -> Change in
            guard offset <= state.nextOffset else { throw OrderError(expected: state.nextOffset, got: offset) }
            let skip = Int(min(state.nextOffset - offset, Int64(entries.count)))
            let before = state.image
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(entries.count - skip)
            for payload in entries[skip...] {
                outcomes.append(Self.apply(payload, to: &state.image))
                state.nextOffset += 1
            }
            return Change(before: before, after: state.image, outcomes: outcomes, firstOffset: offset + Int64(skip))
        }
    }

    /// Replaces the image with a snapshot's (``MetadataImage/records`` encoded as one
    /// ``MetadataBatch``) as of `nextOffset`.
    /// - Throws: ``WireError`` or ``MetadataImageError`` when the snapshot does not decode or
    ///   apply; the image is then unchanged.
    public func install(snapshot bytes: [UInt8], nextOffset: Int64) throws -> Change {
        let image = try MetadataImage().applying(MetadataBatch.decode(bytes))
        return state.withLock { state in
            let before = state.image
            state = State(image: image, nextOffset: nextOffset)
            return Change(before: before, after: image, outcomes: [], firstOffset: nextOffset)
        }
    }

    /// The current image as snapshot bytes, with the offset it reflects.
    public func snapshot() -> (bytes: [UInt8], nextOffset: Int64) {
        let current = self.current
        return (MetadataBatch.encode(current.image.records), current.nextOffset)
    }

    private static func apply(_ payload: [UInt8], to image: inout MetadataImage) -> Outcome {
        let records: [MetadataRecord]
        do {
            records = try MetadataBatch.decode(payload)
        } catch {
            return .refused("undecodable entry: \(error)")
        }
        do {
            image = try image.applying(records)
        } catch {
            return .refused("\(error)")
        }
        return .applied(records: records.count)
    }
}
