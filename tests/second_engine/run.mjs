// Runs one execution of a generated state machine in aws-local-stepfunctions, a second Step
// Functions engine beside moto. Each Lambda Task posts its payload to a bridge (an HTTP server
// that runs the project's handlers); each `states:startExecution.sync:2` Task runs its child
// state machine in this same engine. What the engine lacks and AWS has is made up here, and
// only here (see docs/how-it-works/second-engine.md):
//   - the Context Object's `$$.State` (Name, EnteredTime, RetryCount) and `$$.Execution.Id`/`Name`;
//   - intrinsic functions in a Fail state's `CausePath`/`ErrorPath`;
//   - no timeout on a Task that gives none (the engine's default is 60 s);
//   - the `lambda:invoke` and `startExecution.sync:2` integrations (task overrides).
// Wait states and Retry backoffs take no time. Usage: node run.mjs <deployment.json> (the
// template's state machines with their substitutions, the functions' ARNs, the bridge's URL, the
// execution's input; tests/support/second_engine.py writes it); it prints
// {status, output, error, cause} as JSON on stdout.

import { readFileSync } from "node:fs";

// The engine calls Promise.withResolvers (Node 22 and later); Node 20 lacks it.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const { StateMachine, ExecutionError } = await import("aws-local-stepfunctions");

const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
const START_EXECUTION_SYNC_2 = "arn:aws:states:::states:startExecution.sync:2";
const deployment = JSON.parse(readFileSync(process.argv[2], "utf-8"));
// A test may leave one of the engine's gaps as it is (`without`), to see that the engine still has it.
const madeUpFor = (gap) => !(deployment.without ?? []).includes(gap);

/** The definition of a template's state machine with its DefinitionSubstitutions bound. */
function boundDefinition(machine) {
  let text = readFileSync(machine.definition, "utf-8");
  for (const [placeholder, value] of Object.entries(machine.substitutions)) {
    text = text.replaceAll("${" + placeholder + "}", value);
  }
  const unbound = text.match(/\$\{\w+\}/);
  if (unbound) throw new Error(`${machine.definition}: nothing binds ${unbound[0]}`);
  return JSON.parse(text);
}

/** A function error as Step Functions reports it for `lambda:invoke`: the error is the
 * function's errorType, the cause the function's error answer as a JSON string. */
class FunctionError extends Error {
  constructor(answer) {
    super(JSON.stringify(answer));
    this.name = answer.errorType;
  }
}

/** A failed Task with Step Functions' name for it, and its cause as given. */
class TaskError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

async function invokeFunction(functionArn, payload) {
  const logicalId = deployment.functions[functionArn];
  if (logicalId === undefined) throw new TaskError("Lambda.ResourceNotFoundException", `no function ${functionArn}`);
  const response = await fetch(`${deployment.bridge}/invoke/${logicalId}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  const answer = await response.json();
  if (!response.ok) throw new TaskError("Lambda.ServiceException", JSON.stringify(answer));
  if (response.headers.get("x-amz-function-error")) throw new FunctionError(answer);
  return answer;
}

/** Fail states whose CausePath or ErrorPath is an intrinsic function (AWS allows it; the
 * engine reads both as plain JSONPaths): a Pass state computes them first, into the state's
 * data, and the Fail state reads them from there. */
function intrinsicFailPathsComputedFirst(definition) {
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== "Fail") continue;
    const computed = {};
    for (const field of ["ErrorPath", "CausePath"]) {
      if (typeof state[field] === "string" && state[field].startsWith("States.")) computed[field] = state[field];
    }
    if (Object.keys(computed).length === 0) continue;
    const parameters = {};
    const fail = { ...state };
    for (const [field, intrinsic] of Object.entries(computed)) {
      parameters[`${field}.$`] = intrinsic;
      fail[field] = `$.secondEngineFailPaths.${field}`;
    }
    const failName = `${name} (fail)`;
    definition.States[name] = { Type: "Pass", Parameters: parameters, ResultPath: "$.secondEngineFailPaths", Next: failName };
    definition.States[failName] = fail;
  }
}

/** The Context Object's `$$.State`, which the engine does not give: each state definition is
 * read through a proxy that notes which state runs, since when, and how many times its
 * Parameters were evaluated (once per attempt: a retry evaluates them again). */
function trackStates(definition) {
  const current = { name: null, enteredTime: null, attempts: 0 };
  for (const [name, state] of Object.entries(definition.States)) {
    definition.States[name] = new Proxy(state, {
      get(target, property, receiver) {
        if (current.name !== name) {
          current.name = name;
          current.enteredTime = new Date().toISOString();
          current.attempts = 0;
        }
        if (property === "Parameters") current.attempts += 1;
        return Reflect.get(target, property, receiver);
      },
    });
  }
  const state = {};
  Object.defineProperties(state, {
    Name: { enumerable: true, get: () => current.name },
    EnteredTime: { enumerable: true, get: () => current.enteredTime },
    RetryCount: { enumerable: true, get: () => Math.max(current.attempts - 1, 0) },
  });
  return state;
}

/** A Task with no TimeoutSeconds runs as long as it takes on AWS; the engine fails it after
 * 60 s (the States Language specification's default). A child execution watching a job takes
 * longer: such a Task gets the longest timeout the engine's timer holds (about 24 days). */
const LONGEST_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function tasksWithoutTimeoutRunLong(definition) {
  for (const state of Object.values(definition.States)) {
    if (state.Type === "Task" && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
      state.TimeoutSeconds = LONGEST_TIMEOUT_SECONDS;
    }
  }
}

function zeroFor(definition, type) {
  return Object.fromEntries(Object.entries(definition.States).filter(([, s]) => type(s)).map(([name]) => [name, 0]));
}

/** One execution: {status, output, error, cause}. */
async function execute(logicalId, input, executionName) {
  const machine = deployment.machines[logicalId];
  const definition = boundDefinition(machine);
  if (madeUpFor("intrinsicFailPaths")) intrinsicFailPathsComputedFirst(definition);
  const stateMachine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
  if (madeUpFor("taskTimeouts")) tasksWithoutTimeoutRunLong(definition);
  const taskHandlers = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== "Task") continue;
    if (state.Resource === LAMBDA_INVOKE) {
      taskHandlers[name] = async (parameters) => ({
        ExecutedVersion: "$LATEST",
        Payload: await invokeFunction(parameters.FunctionName, parameters.Payload),
        StatusCode: 200,
      });
    } else if (state.Resource === START_EXECUTION_SYNC_2) {
      taskHandlers[name] = startChildAndWait;
    } else if (state.Resource.startsWith("arn:aws:lambda:")) {
      taskHandlers[name] = (payload) => invokeFunction(state.Resource, payload);
    } else {
      throw new Error(`${machine.definition}: state ${name} calls ${state.Resource}, which this harness does not run`);
    }
  }
  const overrides = {
    taskResourceLocalHandlers: taskHandlers,
    waitTimeOverrides: zeroFor(definition, (s) => s.Type === "Wait"),
    retryIntervalOverrides: zeroFor(definition, (s) => Array.isArray(s.Retry)),
  };
  const executionArn = `${machine.arn.replace(":stateMachine:", ":execution:")}:${executionName}`;
  // Last: from here on, reading a state's definition counts as that state running.
  const context = { Execution: { Id: executionArn, Name: executionName } };
  if (madeUpFor("contextState")) context.State = trackStates(definition);
  const run = stateMachine.run(input, { overrides, context });
  try {
    return { status: "SUCCEEDED", output: await run.result, error: null, cause: null, executionArn };
  } catch (error) {
    if (!(error instanceof ExecutionError)) throw error;
    const failure = error.cause;
    return { status: "FAILED", output: null, error: failure.name, cause: failure.message, executionArn };
  }
}

/** `states:startExecution.sync:2`: run the child to its end and answer as Step Functions
 * does: the execution's description with its Output parsed (that is what `:2` adds to
 * `.sync`); a child that fails fails the Task with States.TaskFailed, its cause the child's
 * description as a JSON string (Error and Cause among its members). */
async function startChildAndWait(parameters) {
  const logicalId = Object.keys(deployment.machines).find((id) => deployment.machines[id].arn === parameters.StateMachineArn);
  if (logicalId === undefined) throw new TaskError("StepFunctions.StateMachineDoesNotExistException", `no state machine ${parameters.StateMachineArn}`);
  const input = typeof parameters.Input === "string" ? JSON.parse(parameters.Input) : parameters.Input ?? {};
  const name = parameters.Name ?? crypto.randomUUID();
  const startDate = Date.now();
  const result = await execute(logicalId, input, name);
  const description = {
    ExecutionArn: result.executionArn,
    Input: input,
    InputDetails: { Included: true },
    Name: name,
    StartDate: startDate,
    StateMachineArn: parameters.StateMachineArn,
    Status: result.status,
    StopDate: Date.now(),
  };
  if (result.status === "SUCCEEDED") {
    return { ...description, Output: result.output, OutputDetails: { Included: true } };
  }
  throw new TaskError("States.TaskFailed", JSON.stringify({ ...description, Input: JSON.stringify(input), Error: result.error, Cause: result.cause }));
}

const result = await execute(deployment.root, deployment.input, deployment.executionName ?? "second-engine");
process.stdout.write(JSON.stringify({ status: result.status, output: result.output, error: result.error, cause: result.cause }) + "\n");
