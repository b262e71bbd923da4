-- The job tables and the feedback rows are updated several times per item (a job row three
-- times: queued, processing, completed; a feedback row five times by the status mirror), and
-- none of those updates is HOT. At the default scale factor of 0.2 a table of 1 M rows waits
-- for 200 k dead versions before it is vacuumed; at 0.02, for 20 k. (bench/README.md,
-- retention of finished job rows.)
alter table public.analysis_jobs
  set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
alter table public.analysis_feedback
  set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
alter table public.ssml_jobs
  set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
alter table public.audio_jobs
  set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
