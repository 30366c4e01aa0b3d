//! The integration tests, compiled as one binary: one link instead of one per file keeps a
//! clean CI build small (each test binary statically links the whole crate and its
//! dependencies) and fast. Tests that change process-wide state (a global tracing subscriber,
//! environment variables a child process or another test would read) or that are run on their
//! own (the fault soak) stay in their own binaries beside this directory.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/graph.rs"]
mod fx;

mod apply_executor;
mod apply_faults;
mod apply_group_licensing;
mod apply_pipeline;
mod apply_resume;
mod apply_run;
mod apply_safety;
mod backend_parity;
mod cli_basics;
mod cli_delegated;
mod cli_docs;
mod cli_export;
mod cli_gitops;
mod cli_gitops_comment;
mod cli_gitops_identities;
mod cli_gitops_install;
mod cli_gitops_loop;
mod cli_gitops_scripts;
mod cli_gitops_workflows;
mod cli_graph;
mod cli_guards;
mod cli_init;
mod cli_newcomer;
mod cli_plan;
mod cli_progress;
mod cli_tenants;
mod config_directory;
mod config_errors;
mod config_export;
mod config_load;
mod config_resolve;
mod config_schema;
mod config_settings;
mod exchange_batch;
mod graph_auth;
mod graph_pacing;
mod graph_read;
mod graph_read_segmented;
mod graph_resilience;
mod graph_write;
mod many_tenants;
mod module_cycles;
mod money;
mod refusals;
mod scenarios;
mod scenarios_config;
mod sim_csdl;
mod sim_graph_rules;
mod sim_serve;
mod sim_throttle_model;
mod trust_graph_ids;
mod trust_hosts;
mod trust_inputs;
mod trust_lock;
mod trust_output;
mod trust_planfile;
mod trust_snapshot;
mod trust_snapshot_check;
mod trust_validate;
