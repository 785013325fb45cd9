//! A simulated crash: the instance dies where it stands (a panic, out of memory, the timeout),
//! so its caller never gets an answer. An unwind with a payload of its own, started with
//! `resume_unwind` (which calls no panic hook: nothing printed), caught by the task's join.

/// The payload of a simulated crash; any other panic is a defect of the code under test.
pub struct SimulatedCrash;

pub fn crash() -> ! {
    std::panic::resume_unwind(Box::new(SimulatedCrash))
}

/// A task that did not finish must have crashed as simulated: any other panic is re-raised.
pub fn expect_simulated_crash(error: tokio::task::JoinError) {
    match error.try_into_panic() {
        Ok(payload) if payload.is::<SimulatedCrash>() => {}
        Ok(payload) => std::panic::resume_unwind(payload),
        Err(error) => panic!("a simulated task was cancelled: {error}"),
    }
}
