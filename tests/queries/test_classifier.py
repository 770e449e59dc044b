"""The communication rule table on real kernel and annotation names."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tracekit import store

# (kind, name, coll_name arg) -> (library, op, algorithm, protocol, reduction, dtype)
CASES = [
    (
        "kernel",
        "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)",
        None,
        ("nccl", "all_reduce", "RING", "LL", "Sum", "bf16"),
    ),
    (
        "kernel",
        "ncclDevKernel_ReduceScatter_Sum_f32_RING_LL128(ncclDevKernelArgsStorage<4096ul>)",
        None,
        ("nccl", "reduce_scatter", "RING", "LL128", "Sum", "f32"),
    ),
    (
        "kernel",
        "ncclDevKernel_AllReduce_Sum_f16_NVLS_TREE_SIMPLE(ncclDevKernelArgsStorage<4096ul>)",
        None,
        ("nccl", "all_reduce", "NVLS_TREE", "SIMPLE", "Sum", "f16"),
    ),
    (
        "kernel",
        "ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)",
        None,
        ("nccl", "all_gather", "RING", "LL", None, None),
    ),
    (
        "kernel",
        "ncclDevKernel_Broadcast_RING_SIMPLE(ncclDevKernelArgsStorage<4096ul>)",
        None,
        ("nccl", "broadcast", "RING", "SIMPLE", None, None),
    ),
    (
        "kernel",
        "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)",
        None,
        ("nccl", "send_recv", None, None, None, None),
    ),
    (
        "kernel",
        "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)",
        "send",
        ("nccl", "send", None, None, None, None),
    ),
    (
        "kernel",
        "ncclDevKernel_Generic_4(ncclDevKernelArgsStorage<4096ul>)",
        "allgather",
        ("nccl", "all_gather", None, None, None, None),
    ),
    (
        "kernel",
        "ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)",
        None,
        ("nccl", "all_reduce", "RING", "LL", "Sum", "float"),
    ),
    (
        "kernel",
        "ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)",
        None,
        ("nccl", "send_recv", "RING", "SIMPLE", "Sum", "int8_t"),
    ),
    (
        "kernel",
        "ncclKernel_Broadcast_RING_LL_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)",
        "broadcast",
        ("nccl", "broadcast", "RING", "LL", "Sum", "int8_t"),
    ),
    (
        "kernel",
        "ncclAllReduceRingLLKernel_sum_f32(ncclColl)",
        None,
        ("nccl", "all_reduce", None, None, None, None),
    ),
    (
        "kernel",
        "void vllm::cross_device_reduce_1stage<__nv_bfloat16, 2>(vllm::RankData*, "
        "vllm::RankSignals, vllm::Signal*, __nv_bfloat16*, int, int)",
        None,
        ("vllm_custom_ar", "all_reduce", "1stage", None, None, None),
    ),
    (
        "kernel",
        "void vllm::cross_device_reduce_2stage<float, 8>(vllm::RankData*, "
        "vllm::RankSignals, vllm::Signal*, float*, int, int)",
        None,
        ("vllm_custom_ar", "all_reduce", "2stage", None, None, None),
    ),
    (
        "kernel",
        "void c10d::symmetric_memory::multimem_all_reduce_kernel<c10::BFloat16, 16, 8>("
        "c10::BFloat16*, unsigned long, unsigned long, unsigned int**, unsigned long)",
        None,
        ("torch_symm_mem", "all_reduce", "multimem_all_reduce", None, None, None),
    ),
    (
        "kernel",
        "void c10d::symmetric_memory::one_shot_all_reduce_kernel<float, 16>(float**, "
        "unsigned long, unsigned long, float*, unsigned long, unsigned int**, unsigned long, "
        "unsigned long)",
        None,
        ("torch_symm_mem", "all_reduce", "one_shot_all_reduce", None, None, None),
    ),
    (
        "kernel",
        "void c10d::symmetric_memory::two_shot_all_reduce_kernel<float, 16, 8>(float**)",
        None,
        ("torch_symm_mem", "all_reduce", "two_shot_all_reduce", None, None, None),
    ),
    ("user_annotation", "gloo:all_reduce", None, ("gloo", "all_reduce", None, None, None, None)),
    ("user_annotation", "gloo:all_gather", None, ("gloo", "all_gather", None, None, None, None)),
    ("user_annotation", "gloo:send", None, ("gloo", "send", None, None, None, None)),
    ("user_annotation", "gloo:recv", None, ("gloo", "recv", None, None, None, None)),
]

NOT_COMM = [
    (
        "kernel",
        "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>, "
        "at::detail::Array<char*, 1> >(int, at::native::FillFunctor<float>, "
        "at::detail::Array<char*, 1>)",
    ),
    ("kernel", "ampere_bf16_s16816gemm_bf16_128x64_ldg8_f2f_stages_64x4_tn"),
    ("kernel", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1"),
    ("kernel", "void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4>, true>(Params)"),
    ("user_annotation", "nccl:all_reduce"),
    ("gpu_user_annotation", "nccl:all_reduce"),
    ("cpu_op", "c10d::allreduce_"),
    ("cpu_op", "record_param_comms"),
]


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    store.initialise(con)
    con.execute(
        "INSERT INTO traces (trace_id, run_id, path, sha256, format, rank, time_offset_ns) "
        "VALUES (1, 'r', 'p', 'h', 'kineto', 0, 0)"
    )
    rows = [(kind, name, coll) for kind, name, coll, _ in CASES] + [
        (kind, name, None) for kind, name in NOT_COMM
    ]
    con.executemany(
        "INSERT INTO events (trace_id, event_id, kind, name, coll_name, ts_ns, dur_ns, device) "
        "VALUES (1, ?, ?, ?, ?, 0, 1, 0)",
        [(i, *row) for i, row in enumerate(rows)],
    )
    return con


def test_every_case_is_classified_as_expected(con: duckdb.DuckDBPyConnection) -> None:
    got = con.execute(
        "SELECT event_id, library, op, algorithm, protocol, reduction, dtype FROM comm_ops "
        "ORDER BY event_id"
    ).fetchall()
    assert [row[1:] for row in got] == [expected for *_, expected in CASES]
    assert [row[0] for row in got] == list(range(len(CASES)))


def test_rule_hints_skip_only_names_their_pattern_cannot_match(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pairs = """
        SELECT n.name, r.rule_id
        FROM (SELECT DISTINCT kind, name FROM events) n
        JOIN comm_rules r ON list_contains(string_split(r.kinds, ','), n.kind)
                         AND regexp_matches(n.name, r.pattern) {}
        ORDER BY ALL"""
    every = con.execute(pairs.format("")).fetchall()
    hinted = con.execute(pairs.format("AND contains(n.name, r.hint)")).fetchall()
    assert len(every) >= len(CASES)
    assert hinted == every
    assert con.execute(
        "SELECT count(*) FROM comm_rules WHERE source = 'builtin' AND hint IS NULL"
    ).fetchall() == [(0,)]


def test_a_user_rule_extends_the_table(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    con.execute(
        "INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, device) "
        "VALUES (1, 1000, 'kernel', 'void myteam::fused_allreduce_rmsnorm<float>(float*)', 0, 1, 0)"
    )
    assert con.execute("SELECT count(*) FROM comm_ops WHERE event_id = 1000").fetchall() == [(0,)]
    rules = tmp_path / "rules.csv"
    rules.write_text(
        "rule_id,priority,kinds,pattern,library,op,captures,note\n"
        "myteam_ar,5,kernel,fused_allreduce_(rmsnorm),myteam,all_reduce,algorithm,fused AR+norm\n"
    )
    assert store.load_rule_file(con, "comm_rules", rules, source=str(rules)) == 1
    assert con.execute(
        "SELECT library, op, algorithm FROM comm_ops WHERE event_id = 1000"
    ).fetchall() == [("myteam", "all_reduce", "rmsnorm")]
    store.initialise(con)  # refreshing the shipped rules keeps the user's
    assert con.execute(
        "SELECT count(*) FROM comm_rules WHERE rule_id = 'myteam_ar'"
    ).fetchall() == [(1,)]


def test_message_bytes_from_args_and_dtype(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, device, external_id) "
        "VALUES (1, 2000, 'kernel', 'ncclDevKernel_AllGather_RING_LL(x)', 0, 1, 0, 77)"
    )
    con.execute(
        "INSERT INTO events (trace_id, event_id, kind, name, ts_ns, dur_ns, external_id, "
        "coll_name, in_nelems, out_nelems, dtype, group_size, pg_name) VALUES "
        "(1, 2001, 'cpu_op', 'record_param_comms', 0, 1, 77, 'allgather', 1024, 4096, "
        "'BFloat16', 4, '3')"
    )
    assert con.execute(
        "SELECT op, dtype, elem_bytes, in_bytes, out_bytes, msg_bytes, group_size, pg_name "
        "FROM comm_ops WHERE event_id = 2000"
    ).fetchall() == [("all_gather", "BFloat16", 2, 2048, 8192, 8192, 4, "3")]
