-- dataset_files(root, tbl): the rows of one table of a Parquet dataset as the files hold them,
-- with run_id (VARCHAR) and rank (INTEGER) taken from the Hive folder names
-- (<root>/<tbl>/run_id=<run>/rank=<rank>/*.parquet; files of older versions with fewer
-- columns are unioned by name). DuckDB only: tracekit.store.attach_parquet registers
-- dataset_files(root, '<table>') as the view _pq_<table> that the views of this folder read;
-- in Spark tracekit.spark registers the same _pq_<table> from spark.read.parquet.
-- Depends on: nothing.
--   root  VARCHAR  the dataset's folder
--   tbl   VARCHAR  runs | traces | events | threads | rank_layout
--   returns: the files' columns, then rank and run_id
CREATE OR REPLACE MACRO dataset_files(root, tbl) AS TABLE
SELECT * FROM read_parquet(root || '/' || tbl || '/**/*.parquet', hive_partitioning = true,
                           hive_types = {'run_id': VARCHAR, 'rank': INTEGER},
                           union_by_name = true);
