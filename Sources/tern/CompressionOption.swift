import ArgumentParser
import TernClient

/// `--compression none|gzip`.
struct CompressionOption: ExpressibleByArgument, Sendable {
    let value: CompressionCodec

    init(_ value: CompressionCodec) { self.value = value }

    init?(argument: String) {
        switch argument {
        case "none": value = .none
        case "gzip": value = .gzip
        default: return nil
        }
    }

    static var allValueStrings: [String] { ["none", "gzip"] }
    var defaultValueDescription: String { value.description }
}
