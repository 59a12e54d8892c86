import XCTest
@testable import StaveIngest

/// The automatic compaction policy (`Compactor.autoPlan`), simulated: a
/// store's runs are only their row counts here, an append adds a run, and
/// the plan after each commit merges what it picks (as `compact(mode:
/// .auto)` does, once per commit). What a live store needs from it: a
/// bounded number of runs after every commit, and few rows rewritten per
/// row appended.
final class CompactionPolicyTests: XCTestCase {
    struct Outcome {
        /// Most runs after any commit's compaction.
        var maxRuns = 0
        /// Rows rewritten by the compactions.
        var moved = 0
        var appended = 0
        var runs: [Int] = []
        var amplification: Double { Double(moved) / Double(max(1, appended)) }
    }

    /// Appends `batches` to a store of `start` runs, planning after each,
    /// and checks every plan's shape on the way.
    func simulate(start: [Int], batches: [Int], file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        var out = Outcome(runs: start)
        for b in batches {
            out.runs.append(b)
            out.appended += b
            let plan = Compactor.autoPlan(runRows: out.runs)
            if !plan.isEmpty {
                XCTAssertGreaterThanOrEqual(plan.count, 2, "a merge takes at least two runs", file: file, line: line)
                XCTAssertEqual(plan, Array(Set(plan)).sorted(), "indices sorted and unique", file: file, line: line)
                XCTAssertTrue(plan.allSatisfy { out.runs.indices.contains($0) }, file: file, line: line)
                let merged = plan.reduce(0) { $0 + out.runs[$1] }
                out.moved += merged
                let chosen = Set(plan)
                out.runs = out.runs.indices.filter { !chosen.contains($0) }.map { out.runs[$0] } + [merged]
            }
            out.maxRuns = max(out.maxRuns, out.runs.count)
        }
        XCTAssertEqual(out.runs.reduce(0, +), start.reduce(0, +) + out.appended, "no row lost or doubled", file: file, line: line)
        let shape = batches.count > 1 && Set(batches).count == 1 ? "\(batches.count) batches of \(batches[0])" : "\(batches.count) batches of mixed sizes"
        print("CompactionPolicyTests: \(shape) onto \(start): \((out.amplification * 10).rounded() / 10) rows rewritten per row appended, at most \(out.maxRuns) runs")
        return out
    }

    /// The live benchmark's shape: 1,000-row appends onto a 10M-row run,
    /// and onto an empty store. The rule before the ladder (the two
    /// smallest runs merged beyond six) kept the smaller runs at equal
    /// sizes and rewrote them at nearly every append, far over this bound.
    func testSmallAppendsKeepFewRunsAndRewriteLittle() {
        for start in [[10_000_000], []] {
            let o = simulate(start: start, batches: Array(repeating: 1_000, count: 5_600))
            XCTAssertLessThanOrEqual(o.maxRuns, Compactor.maxRuns, "start \(start)")
            XCTAssertLessThanOrEqual(o.amplification, 32, "start \(start): rows rewritten per row appended")
            XCTAssertGreaterThan(o.moved, 0)
        }
    }

    /// A store fed for longer: the second largest run grows with the rows
    /// appended and is rewritten whenever the runs below it reach an eighth
    /// of it, so the ratio grows slowly with the rows appended (the rule
    /// before the ladder: over a thousand here).
    func testLongFeedsStayBounded() {
        for start in [[10_000_000], []] {
            let o = simulate(start: start, batches: Array(repeating: 1_000, count: 50_000))
            XCTAssertLessThanOrEqual(o.maxRuns, Compactor.maxRuns, "start \(start)")
            XCTAssertLessThanOrEqual(o.amplification, 100, "start \(start): rows rewritten per row appended")
        }
    }

    /// Larger commits (follow's batches) and batches of mixed sizes.
    func testOtherBatchSizes() {
        var rng = TestRNG(16)
        let mixed = (0..<3_000).map { _ in 1 + rng.below(200_000) }
        // 1 to 1,000,000 rows, spread evenly over the orders of magnitude.
        let spread = (0..<3_000).map { _ in Int(pow(10, Double(rng.below(6_001)) / 1_000)) }
        for (name, batches) in [("50k", Array(repeating: 50_000, count: 2_000)), ("mixed", mixed), ("spread", spread)] {
            for start in [[10_000_000], []] {
                let o = simulate(start: start, batches: batches)
                XCTAssertLessThanOrEqual(o.maxRuns, Compactor.maxRuns, "\(name), start \(start)")
                XCTAssertLessThanOrEqual(o.amplification, 32, "\(name), start \(start)")
            }
        }
    }

    /// One-row appends: the ratio is large (each merges a small run again),
    /// but each commit rewrites few rows.
    func testTinyAppendsRewriteFewRowsEach() {
        let o = simulate(start: [10_000_000], batches: Array(repeating: 1, count: 20_000))
        XCTAssertLessThanOrEqual(o.maxRuns, Compactor.maxRuns)
        XCTAssertLessThanOrEqual(o.moved / 20_000, Compactor.tierBase / 4, "rows rewritten per commit")
    }

    /// The ladder: beyond maxRuns the smallest runs merge, and a next larger
    /// run joins them when it is less than ladderRatio times what they
    /// hold; the largest run never joins by this rule.
    func testLadderPicks() {
        let r = Compactor.ladderRatio
        // Below the cap and no full tier: nothing.
        XCTAssertEqual(Compactor.autoPlan(runRows: [10_000_000, 1_000_000, 100_000, 1_000]), [])
        XCTAssertEqual(Compactor.autoPlan(runRows: [5]), [])
        XCTAssertEqual(Compactor.autoPlan(runRows: []), [])
        // Over the cap: the two smallest, the rung above being large enough.
        let rungs = [10_000_000, 2_000_000, 200_000, 20_000, 1_000]
        XCTAssertEqual(Compactor.autoPlan(runRows: rungs), [3, 4])
        // The rung above is less than r x (20,000 + 1,000): it joins, and so
        // does the next one when it is less than r x what is merged.
        XCTAssertEqual(Compactor.autoPlan(runRows: [10_000_000, 2_000_000, 21_000 * r - 1, 20_000, 1_000]), [2, 3, 4])
        XCTAssertEqual(Compactor.autoPlan(runRows: [10_000_000, 21_000 * r * r, 21_000 * r - 1, 20_000, 1_000]), [1, 2, 3, 4])
        // Exactly r x: stays.
        XCTAssertEqual(Compactor.autoPlan(runRows: [10_000_000, 2_000_000, 21_000 * r, 20_000, 1_000]), [3, 4])
        // The largest run never joins, in whatever order the runs are listed.
        // (Each run in a tier of its own; 2,000,000 / r is below what the
        // others add up to.)
        XCTAssertEqual(Compactor.autoPlan(runRows: [1_000, 20_000, 100_000, 300_000, 2_000_000]), [0, 1, 2, 3])
        XCTAssertEqual(Compactor.autoPlan(runRows: [300_000, 1_000, 2_000_000, 20_000, 100_000]), [0, 1, 3, 4])
        // A full tier merges first (four runs below tierBase).
        XCTAssertEqual(Compactor.autoPlan(runRows: [10_000_000, 10, 20, 30, 40]), [1, 2, 3, 4])
    }
}
