-- label_rules: how annotation range names become labels (step, phase, stage, layer, block).
-- Applied by the view `event_labels` to each distinct annotation name: every rule whose
-- RE2 `pattern` matches yields the value of its first capture group for its `key`. When
-- several ranges around an event give the same key, the innermost range wins; on one range,
-- the lowest `priority` wins. Shipped rows (source = 'builtin') read tracekit's own
-- `tk:key=value ...` convention, nn.Module ranges (profiler `with_modules`) and Hugging Face /
-- vLLM layer names; users add rows (`source` = their file) with their own patterns:
-- `tracekit rules add FILE.csv --table label_rules` (list / remove: `tracekit rules`).
--   rule_id   VARCHAR  short unique name
--   priority  INTEGER  lower wins among rules matching the same range and key
--   key       VARCHAR  step | phase | stage | layer | block
--   pattern   VARCHAR  RE2 regular expression searched in the range name; group 1 = value
--   hint      VARCHAR  optional: a substring of every name the pattern matches (e.g.
--                      'layers.'); names without it skip the regular expression, which is
--                      compiled once per (name, rule) pair. NULL: no shortcut (a real nsys
--                      export has ~20,000 distinct range names: ~0.4 s per unhinted rule)
--   note      VARCHAR  why the rule exists / an example name
--   source    VARCHAR  'builtin' or the file a user loaded the row from
CREATE TABLE IF NOT EXISTS label_rules (
    rule_id   VARCHAR NOT NULL,
    priority  INTEGER NOT NULL,
    key       VARCHAR NOT NULL,
    pattern   VARCHAR NOT NULL,
    note      VARCHAR,
    source    VARCHAR NOT NULL,
    hint      VARCHAR
);
ALTER TABLE label_rules ADD COLUMN IF NOT EXISTS hint VARCHAR;
