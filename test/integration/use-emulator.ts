import { Emulator, type EmulatorOptions, emulatorClientConfig } from '../../local/emulator';

/** Client settings in tests: the emulator, and no retries, so an unsupported call fails loudly. */
export function clientConfig(emulator: Emulator) {
  return emulatorClientConfig(emulator, 1);
}

/**
 * Starts one emulator for a test file, resets it before each test, and fails the file if the emulator met an
 * unimplemented call.
 */
export function useEmulator(options: EmulatorOptions = {}): () => Emulator {
  let emulator: Emulator | undefined;
  beforeAll(async () => {
    emulator = await Emulator.start(options);
  });
  beforeEach(async () => {
    await emulator?.reset();
  });
  afterAll(async () => {
    if (emulator === undefined) return;
    await emulator.stop();
    emulator.assertNoUnimplementedCalls();
  });
  return () => {
    if (emulator === undefined) throw new Error('the emulator is not running');
    return emulator;
  };
}
