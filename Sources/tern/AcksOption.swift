import ArgumentParser
import TernClient

/// `--acks 0|1|all`.
struct AcksOption: ExpressibleByArgument, Equatable, CustomStringConvertible {
    var value: ProducerConfiguration.Acks

    init(_ value: ProducerConfiguration.Acks) { self.value = value }

    init?(argument: String) {
        switch argument.lowercased() {
        case "0": value = .none
        case "1": value = .leader
        case "all", "-1": value = .all
        default: return nil
        }
    }

    static var allValueStrings: [String] { ["0", "1", "all"] }

    var description: String { value.description }
    var defaultValueDescription: String { description }
}
