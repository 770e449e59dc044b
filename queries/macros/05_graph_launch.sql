-- graph_launch(launch_name, args): whether device work ran in a CUDA (or HIP) graph
-- replay: its launching call is a graph launch (cudaGraphLaunch, cuGraphLaunch, their
-- _ptsz forms, hipGraphLaunch), or the work carries a graph node id (Kineto's kernel arg
-- 'graph node id'; nsys's graphNodeId, stored under the same name). All the work of one
-- replay shares the launch's correlation id.
-- Depends on: nothing.
--   launch_name  VARCHAR  name of the launching CUDA call (NULL when not found)
--   args         JSON     events.args of the device event
--   returns BOOLEAN
CREATE OR REPLACE MACRO graph_launch(launch_name, args) AS
    coalesce(contains(launch_name, 'GraphLaunch'), false)
    OR coalesce(contains(CAST(args AS VARCHAR), '"graph node id"'), false);
