-- Trigger functions are for triggers. Supabase's default privileges on schema public give
-- anon and authenticated EXECUTE on every new function there, and 07 and 08 revoked only
-- from PUBLIC, so the app roles could call these two SECURITY DEFINER functions. Postgres
-- refuses to run a trigger function outside a trigger, but what the app roles may execute
-- is decided here, not by that accident: nothing but the ownership checks.
revoke execute on function public.enqueue_ssml_job(), public.trigger_analysis_kickoff()
  from public, anon, authenticated;
