//! Dialogs: the YAML language, its validation, and the state machine that runs it.
//!
//! Pure: nothing here does I/O, reads the clock or the environment, or knows about tokio,
//! HTTP, stores or email providers. The engine feeds it inputs and runs the actions it asks for.

pub mod actions;
pub mod calls;
pub mod condition;
pub mod entities;
pub mod expression;
pub mod graph;
pub mod lint;
pub mod load;
pub mod locale;
pub mod machine;
pub mod model;
pub mod nodes;
pub mod reply;
pub mod schema;
pub mod session;
pub mod template;
pub mod understand;
pub mod value;

pub use actions::{ActionCall, Outcome};
pub use load::{LoadEnv, Loaded, load, load_translated, load_untranslated, load_with};
pub use machine::{Input, Step, StepEnv, Transition, Via, step, step_traced};
pub use model::{Dialog, NodeIdx};
pub use nodes::{NodeKind, Question, Shape};
pub use session::{Session, State};
