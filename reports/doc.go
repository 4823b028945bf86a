// The renderers, in one place:
//
//   - [Load] reads check.json and bench.json files (any mix, any order) and
//     refuses, in one line naming the file and the schema it found, anything
//     else. [MergeChecks] and [MergeBenches] fold several inputs: the
//     reference server first, the newest input winning for a server or a
//     benchmark cell that appears twice.
//   - [Build] computes the views every renderer shares: the conformance
//     matrix ([BuildConformance]: specs × servers, grouped by section, with
//     per-server scores and per-row "differs"/"failing" flags) and the
//     benchmark view ([BuildBench]: per scenario, one panel per mode and
//     concurrency with its table and charts, the comparison table, the
//     regression verdicts and the validity warnings).
//   - [Report.WriteHTML] writes one self-contained page: inline CSS, a little
//     inline JS (filters, expanders), and hand-made inline SVG charts; no
//     font, script, style or image is fetched, so it opens offline from a CI
//     artifact. [Report.WriteMarkdown] writes the compact CI summary.
//   - [WriteDir] does all of it into a directory, with one JUnit XML
//     document per checked server; the bench verb calls it so that every run
//     leaves a report behind. [WriteCheck] writes what the check verb leaves:
//     check.json, check.md (the verdict matrix) and WriteDir's files.

package reports
