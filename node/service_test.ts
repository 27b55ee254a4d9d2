import assert from "node:assert/strict";
import { defaultConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import {
  type BaseComponents,
  composeServices,
  defineService,
  type Service,
  ServiceGroup,
} from "./service.ts";

function base(lines: string[] = []): BaseComponents {
  return {
    config: defaultConfig(),
    logger: createLogger({ level: "debug", write: (line) => lines.push(line) }),
    apiToken: "token",
  };
}

/** A service that writes what happens to it into `calls`. */
function recorded(
  name: string,
  calls: string[],
  fail: { start?: boolean; stop?: boolean; close?: boolean } = {},
) {
  return {
    name,
    start: () => {
      calls.push(`start ${name}`);
      return fail.start ? Promise.reject(new Error(`${name} cannot start`)) : Promise.resolve();
    },
    stop: () => {
      calls.push(`stop ${name}`);
      return fail.stop ? Promise.reject(new Error(`${name} cannot stop`)) : Promise.resolve();
    },
    close: () => {
      calls.push(`close ${name}`);
      if (fail.close) throw new Error(`${name} cannot close`);
    },
  };
}

Deno.test("composeServices creates in list order, hands each factory what it needs and a namespaced logger", async () => {
  const lines: string[] = [];
  const created: string[] = [];
  const a = defineService("a", ["config"], (c: { config: BaseComponents["config"] }) => {
    created.push("a");
    return { port: c.config.port };
  });
  const b = defineService("b", ["a"], (c) => {
    created.push("b");
    c.log.info("created b");
    return { fromA: c.a.port + 1 };
  }, { log: "kosmos:bee" });
  const { components, services } = await composeServices(base(lines), [a, b]);
  assert.deepEqual(created, ["a", "b"]);
  assert.equal(components.a.port, defaultConfig().port);
  assert.equal(components.b.fromA, defaultConfig().port + 1);
  assert.equal(components.apiToken, "token");
  assert.deepEqual(services, [components.a, components.b]);
  assert.match(lines[0], / info kosmos:bee created b$/);
  assert.equal(a.log, "kosmos:a");
});

Deno.test("composeServices refuses a need that is not composed earlier, before creating anything", async () => {
  const created: string[] = [];
  const market = defineService("market", ["delegation"], () => {
    created.push("market");
    return {};
  });
  const delegation = defineService("delegation", [], () => {
    created.push("delegation");
    return {};
  });
  await assert.rejects(composeServices(base(), [market, delegation]), (err: Error) => {
    assert.equal(err.name, "StartError");
    assert.equal(err.message, 'service "market" needs "delegation", which is not composed before it');
    return true;
  });
  assert.deepEqual(created, []);
  await assert.rejects(
    composeServices(base(), [delegation, delegation]),
    /service "delegation" is composed twice/,
  );
  assert.deepEqual(created, []);
});

Deno.test("composeServices closes what it created, in reverse, when a factory throws", async () => {
  const calls: string[] = [];
  const list = [
    defineService("one", [], () => recorded("one", calls)),
    defineService("two", ["one"], () => recorded("two", calls)),
    defineService("three", ["two"], () => {
      throw new Error("cannot open three");
    }),
    defineService("four", [], () => recorded("four", calls)),
  ];
  await assert.rejects(composeServices(base(), list), /cannot open three/);
  assert.deepEqual(calls, ["close two", "close one"]);
});

Deno.test("ServiceGroup starts in order, stops in reverse, and closes every service", async () => {
  const calls: string[] = [];
  const services: Service[] = [recorded("db", calls), {}, recorded("p2p", calls), recorded("http", calls)];
  const group = new ServiceGroup(services, { log: base().logger.forComponent("kosmos:node") });
  await group.start();
  assert.deepEqual(calls, ["start db", "start p2p", "start http"]);
  calls.length = 0;
  await group.stop();
  assert.deepEqual(calls, ["stop http", "stop p2p", "stop db"]);
  calls.length = 0;
  await group.stop(); // nothing is started any more
  group.close();
  group.close(); // once is enough
  assert.deepEqual(calls, ["close http", "close p2p", "close db"]);
});

Deno.test("ServiceGroup stops what started when a start fails, and close still reaches every service", async () => {
  const calls: string[] = [];
  const group = new ServiceGroup(
    [
      recorded("db", calls),
      recorded("p2p", calls),
      recorded("market", calls, { start: true }),
      recorded("http", calls),
    ],
    { log: base().logger.forComponent("kosmos:node") },
  );
  await assert.rejects(group.start(), /market cannot start/);
  assert.deepEqual(calls, ["start db", "start p2p", "start market", "stop p2p", "stop db"]);
  calls.length = 0;
  group.close();
  assert.deepEqual(calls, ["close http", "close market", "close p2p", "close db"]);
});

Deno.test("ServiceGroup logs a failed stop or close and goes on with the rest", async () => {
  const calls: string[] = [];
  const lines: string[] = [];
  const group = new ServiceGroup(
    [recorded("db", calls, { close: true }), recorded("p2p", calls, { stop: true }), recorded("http", calls)],
    { log: base(lines).logger.forComponent("kosmos:node") },
  );
  await group.start();
  calls.length = 0;
  await group.stop();
  group.close();
  assert.deepEqual(calls, ["stop http", "stop p2p", "stop db", "close http", "close p2p", "close db"]);
  assert.equal(lines.filter((l) => / warn kosmos:node failed to stop service /.test(l)).length, 1);
  assert.equal(lines.filter((l) => / warn kosmos:node failed to close service /.test(l)).length, 1);
});
