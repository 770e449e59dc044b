-- comm_rules: the rule table that decides which events are communication.
-- Applied by the view `comm_ops` to each distinct (kind, name): the matching rule with
-- the lowest priority number wins. Users add rows with `tracekit rules add FILE.csv`
-- (each pattern is checked to compile first), list them with `tracekit rules list --user`
-- and remove them with `tracekit rules remove ID`; shipped rows have source = 'builtin'.
--   rule_id    VARCHAR  short unique name
--   priority   INTEGER  lower wins when several rules match
--   kinds      VARCHAR  comma-separated event kinds the rule applies to (events.kind)
--   pattern    VARCHAR  RE2 regular expression searched in events.name
--   hint       VARCHAR  optional: a substring of every name the pattern matches (e.g.
--                       'ncclDevKernel_'); names without it skip the regular expression,
--                       which is compiled once per (name, rule) pair. NULL: no shortcut
--   library    VARCHAR  nccl | rccl | vllm_custom_ar | torch_symm_mem | gloo | user ...
--   op         VARCHAR  the op when the name does not carry it (else NULL)
--   captures   VARCHAR  comma-separated meaning of the pattern's groups, in order:
--                       any of op, algorithm, protocol, reduction, dtype
--   note       VARCHAR  why the rule exists / an example name
--   source     VARCHAR  'builtin' or the file a user loaded the row from
CREATE TABLE IF NOT EXISTS comm_rules (
    rule_id   VARCHAR NOT NULL,
    priority  INTEGER NOT NULL,
    kinds     VARCHAR NOT NULL,
    pattern   VARCHAR NOT NULL,
    library   VARCHAR NOT NULL,
    op        VARCHAR,
    captures  VARCHAR,
    note      VARCHAR,
    source    VARCHAR NOT NULL,
    hint      VARCHAR
);
ALTER TABLE comm_rules ADD COLUMN IF NOT EXISTS hint VARCHAR;

-- comm_op_aliases: spellings of an op in kernel names, annotations and args -> canonical op.
--   alias   VARCHAR  as written (matched case-insensitively)
--   op      VARCHAR  all_reduce | all_gather | reduce_scatter | broadcast | reduce | gather |
--                    scatter | all_to_all | send | recv | send_recv | barrier
CREATE TABLE IF NOT EXISTS comm_op_aliases (
    alias   VARCHAR NOT NULL,
    op      VARCHAR NOT NULL,
    source  VARCHAR NOT NULL
);

-- dtype_sizes: bytes per element of each dtype spelling seen in traces.
--   dtype   VARCHAR  as written (matched case-insensitively)
--   bytes   INTEGER  bytes per element
CREATE TABLE IF NOT EXISTS dtype_sizes (
    dtype   VARCHAR NOT NULL,
    bytes   INTEGER NOT NULL,
    source  VARCHAR NOT NULL
);
