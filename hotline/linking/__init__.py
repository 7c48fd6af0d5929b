"""Linking reports that name the same recruiter (docs/contract.md section 5, "Linked reports").

- `words`: the normal form of what reporters write (case, spacing, Khmer Unicode, romanised Khmer).
- `identifiers`: what a report names (recruiter numbers, agency names, its description), pure.
- `index`: identifiers stored per report (numbers encrypted, found by keyed hash), and a report's links.
- `suggest`: similar names and descriptions scored (rapidfuzz) into suggestions a caseworker decides.
- `clusters`: identifiers named by enough of an agency's reports, and `cluster.detected` pushed once per size.
- `decisions`: a caseworker confirms or rejects a suggestion, merges two reports of one event (audited).
- `work`: what the worker's jobs (and the backfill command) run.
- `measure`: precision and recall of the suggestions on the labelled pairs of tests/data/.

Linking runs in workers only, never in the webhook step.
"""
