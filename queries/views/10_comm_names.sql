-- _comm_names (private): each distinct (kind, name) of `events` that a row of `comm_rules`
-- matches, with the winning rule (lowest priority) and the fields its pattern captures.
-- Classifying distinct names, not events, keeps the regular expressions off the hot path;
-- a rule's `hint` substring keeps them off the names it cannot match.
-- Depends on: events, comm_rules.
--   kind, name  the event kind and name classified
--   rule_id     the winning comm_rules row
--   library     its library
--   raw_op      op as spelled (fixed by the rule or captured from the name)
--   algorithm, protocol, reduction, dtype   captured from the name ('' captures are NULL)
CREATE OR REPLACE VIEW _comm_names AS
WITH rules AS (
    SELECT *, string_split(kinds, ',') AS kind_list,
           string_split(coalesce(captures, ''), ',') AS caps
    FROM comm_rules
), names AS (
    SELECT DISTINCT kind, name FROM events
    WHERE kind IN (SELECT DISTINCT unnest(kind_list) FROM rules)
), matched AS (
    SELECT n.kind, n.name, r.rule_id, r.library, r.op AS fixed_op, r.caps,
           [regexp_extract(n.name, r.pattern, 1), regexp_extract(n.name, r.pattern, 2),
            regexp_extract(n.name, r.pattern, 3), regexp_extract(n.name, r.pattern, 4),
            regexp_extract(n.name, r.pattern, 5)] AS groups,
           row_number() OVER (PARTITION BY n.kind, n.name ORDER BY r.priority, r.rule_id) AS pick
    FROM names n
    -- CASE, not AND: the optimizer may reorder an AND and run the expression first
    JOIN rules r ON list_contains(r.kind_list, n.kind)
                AND CASE WHEN r.hint IS NULL OR contains(n.name, r.hint)
                         THEN regexp_matches(n.name, r.pattern) ELSE false END
)
SELECT kind, name, rule_id, library,
       coalesce(fixed_op, nullif(groups[list_position(caps, 'op')], '')) AS raw_op,
       nullif(groups[list_position(caps, 'algorithm')], '') AS algorithm,
       nullif(groups[list_position(caps, 'protocol')], '') AS protocol,
       nullif(groups[list_position(caps, 'reduction')], '') AS reduction,
       nullif(groups[list_position(caps, 'dtype')], '') AS dtype
FROM matched
WHERE pick = 1;
