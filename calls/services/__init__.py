"""Write paths of calls, split by sub-domain: ingest (upserts), recordings (audio), sync (PBX), pipeline (states)."""
