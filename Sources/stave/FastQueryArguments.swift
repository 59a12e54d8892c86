import ArgumentParser
import StaveQuery
import StaveReports

/// The common query command lines, read without ArgumentParser.
///
/// ArgumentParser learns a command's options by reflection, and in a fresh
/// process that first parse costs about 1.4 ms (Swift type metadata and
/// protocol conformance lookups, see the commit that added this), more
/// than a one-customer query takes on a 1M-row store. So `stave profile`
/// and `stave stats` with nothing but these options are read here:
///
///     STORE [--format F] [-o|--output PATH] [--customer IDS]...
///           [--from TIME] [--to TIME] [--threads N] [--verbose]
///
/// with the store first and each option at most once (--customer as often
/// as wanted). Values go through the same functions the options use, and
/// every check those make must pass. Anything else (another option,
/// `--name=value`, a value starting with "-", a value that does not parse,
/// a repeated option) gives nil, and ArgumentParser reads the line and
/// gives its usual answer or error. FastQueryArgumentsTests checks that
/// both readings agree on every line this one accepts.
enum FastQueryArguments {
    static func parse(_ args: [String]) -> QueryInvocation? {
        guard args.count >= 2, args[0] == "profile" || args[0] == "stats", isValue(args[1]) else { return nil }
        var format: OutputFormat?, output: String?, threads: Int?, from: String?, to: String?
        var customers: [String] = []
        var verbose = false
        var i = 2
        while i < args.count {
            if args[i] == "--verbose" {
                guard !verbose else { return nil }
                verbose = true
                i += 1
                continue
            }
            guard i + 1 < args.count, isValue(args[i + 1]) else { return nil }
            let value = args[i + 1]
            switch args[i] {
            case "--format":
                guard format == nil, let f = OutputFormat(argument: value) else { return nil }
                format = f
            case "-o", "--output":
                guard output == nil else { return nil }
                output = value
            case "--threads":
                guard threads == nil, let n = Int(argument: value), ThreadOptions.allowed.contains(n) else { return nil }
                threads = n
            case "--from":
                guard from == nil else { return nil }
                from = value
            case "--to":
                guard to == nil else { return nil }
                to = value
            case "--customer":
                customers.append(value)
            default:
                return nil
            }
            i += 2
        }
        guard let filter = try? FilterOptions.makeFilter(from: from, to: to, customerValues: customers),
              let format = try? checkedFormat(explicit: format, output: output, allowed: OutputFormat.allCases),
              let naming = try? OutputOptions.naming(nil) else { return nil }
        let scope = QueryScope(from: filter.from, to: filter.to, customers: filter.customers)
        let kind: QueryKind = args[0] == "profile" ? .profile(ProfilePage()) : .stats
        return QueryInvocation(store: args[1], request: QueryRequest(kind, scope: scope, naming: naming), threads: threads ?? defaultThreads,
                               format: format, output: output, verbose: verbose)
    }

    /// A word ArgumentParser takes as a value, never as an option.
    static func isValue(_ word: String) -> Bool { !word.isEmpty && !word.hasPrefix("-") }
}

extension Stave {
    /// The entry point: a common query command line runs straight away
    /// (see FastQueryArguments), any other goes to ArgumentParser.
    static func main() {
        if let query = FastQueryArguments.parse(Array(CommandLine.arguments.dropFirst())) {
            do { try execute(query) } catch { exit(withError: error) }
            return
        }
        main(nil)
    }
}
