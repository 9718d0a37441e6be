"""Shared testing code, used by the tests and the benchmarks alike (it holds no tests).

The isolated deployment harness (:mod:`.harness`: broker, workers, S3), the SASL/TLS
front door (:mod:`.kafka_front`), the throwaway PKI (:mod:`.pki`), the throwaway
PostgreSQL server (:mod:`.postgres`), seeded terminal databases (:mod:`.seed`), the
frozen pre-migration schema (:mod:`.migrations`), the end-to-end checks
(:mod:`.pipeline_checks`) and the TA-Lib reference (:mod:`.reference`). Test modules
import from here, never from one another.
"""
