"""Fake credentials in every known format, planted into traces by the secrets tests.

Each entry is (format, text planted, the secret inside it that must never be
stored). None of these is a real credential; each secret is unique, so finding
it anywhere in a database or a Parquet dataset means the filter let it through.
"""

from __future__ import annotations

PLANTED: tuple[tuple[str, str, str], ...] = (
    ("github", "ghp_R4nd0mFAKEg1thubT0kenAbCdEf012345", "R4nd0mFAKEg1thubT0ken"),
    ("github oauth", "gho_FAKE0auth7okenXyZ98765qwertyUIOP12", "FAKE0auth7okenXyZ"),
    ("github pat", "github_pat_11FAKEPAT0_abcdEFGHijklMNOP1234", "11FAKEPAT0_abcdEFGH"),
    ("slack bot", "xoxb-123456789012-FAKEslackB0T-AbCdEfGh", "FAKEslackB0T"),
    ("slack user", "xoxp-98765-FAKEslackUSER9-ZyXw", "FAKEslackUSER9"),
    ("hugging face", "hf_FAKEhuggingFACEtoken0123456789abcd", "FAKEhuggingFACEtoken"),
    ("short hugging face", "hf_Fk3shrt9", "Fk3shrt9"),
    ("openai", "sk-proj-FAKEopenAI0key_1234567890abcdef", "FAKEopenAI0key"),
    ("anthropic", "sk-ant-api03-FAKEanthr0picKEY-abcdefghij", "FAKEanthr0picKEY"),
    ("aws key id", "AKIAFAKE7EXAMPLE2KEY", "AKIAFAKE7EXAMPLE2KEY"),
    ("aws session key id", "ASIAFAKE9SESSION4KEY", "ASIAFAKE9SESSION4KEY"),
    ("aws secret key", "wJalrXUtnFAKE/K7MDENG/bPxRfiCYFAKEKEY000", "wJalrXUtnFAKE/K7MDENG"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJGQUtFand0In0.FAKEjwtSignature_abc123",
        "eyJzdWIiOiJGQUtFand0In0",
    ),
    (
        "pem block",
        "-----BEGIN PRIVATE KEY-----\nMIIEvFAKEpemBODYabcdef0123\n-----END PRIVATE KEY-----",
        "MIIEvFAKEpemBODY",
    ),
    ("url user info", "https://alice:Tr0ub4dor&FAKE3@git.example.com/r.git", "Tr0ub4dor&FAKE3"),
    ("password assignment", "password=c0rrect!FAKE#horse", "c0rrect!FAKE#horse"),
    ("api key flag", "--api-key FAKEplainAPIvalue77", "FAKEplainAPIvalue77"),
    ("bearer header", "Authorization: Bearer FAKEbearer.T0ken-xyz", "FAKEbearer.T0ken"),
)
