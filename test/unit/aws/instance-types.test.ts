import { validateFleetConfig } from '../../../src/aws/fleet-config-store';
import { describeFleetConfigWarnings } from '../../../src/aws/instance-types';
import { fleetJson } from '../fixtures';

describe('describeFleetConfigWarnings', () => {
  it('warns on an instance type the EC2 client does not list, and the fleet stays valid', () => {
    const fleets = validateFleetConfig({ batch: fleetJson({ instanceTypes: ['c7g.large', 'm7g.huge'] }) });

    expect(describeFleetConfigWarnings(fleets)).toEqual([
      'batch.instanceTypes.1: m7g.huge is not an instance type this AWS SDK knows ' +
        '(a type newer than the SDK launches; a misspelt one fails at launch)',
    ]);
  });

  it('says nothing of the types the EC2 client lists', () => {
    const fleets = validateFleetConfig({ batch: fleetJson({ instanceTypes: ['c7g.large', 't3.micro'] }) });

    expect(describeFleetConfigWarnings(fleets)).toEqual([]);
  });
});
