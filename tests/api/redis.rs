//! The Redis store (`sessions.store: redis`): the store contract run against both stores,
//! what only Redis does (expiries, the stored format, leases, outages), and several engine
//! instances sharing one Redis over HTTP. Every test starts its own `redis-server` on a free
//! port (`redis/server.rs`) and stops it.

mod contract;
pub mod instances;
mod processes;
pub mod server;
mod store;

/// Runs each contract function against the in-memory adapters and against Redis.
macro_rules! both_stores {
    ($($name:ident $(with cap $cap:expr)?),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let cap = usize::MAX $(.min($cap))?;
                    let config = super::contract::config(None, cap);
                    super::contract::$name(super::contract::fixture(&config)).await;
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let server = super::server::RedisServer::start();
                    let cap = usize::MAX $(.min($cap))?;
                    let config = super::contract::config(Some(&server.url()), cap);
                    super::contract::$name(super::contract::fixture(&config)).await;
                }
            )*
        }
    };
}

both_stores!(
    absent_sessions_load_as_nothing,
    a_saved_session_loads_back_as_it_was,
    saves_are_compare_and_set,
    a_record_is_written_with_its_save,
    a_turn_opens_with_the_record_or_the_session,
    a_turn_begins_under_its_lease_and_finishing_frees_it,
    a_turn_that_lost_a_race_saves_nothing_and_frees_its_lease,
    a_finished_turn_puts_its_answer_on_a_stream_someone_reads,
    the_newest_sixteen_records_are_kept,
    idle_sessions_are_gone_and_free_their_id,
    sweeping_frees_idle_sessions,
    deleting_forgets_the_session_and_its_records,
    the_longest_idle_sessions_make_room with cap 3,
    counters_limit_refund_and_reset,
    a_charge_and_another_count_come_together,
    events_at_one_instant_count_apart,
    rate_limits_allow_a_burst_then_say_when,
);
