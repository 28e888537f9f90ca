import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Creates the control plane's state table as infra/storage.yml declares it (`pk`, `sk`, on-demand), for the tests
 * and benchmarks that run the core against resources they create themselves. TTL is not set: moto expires nothing,
 * and the adapter reads an expired item as absent (test/template checks the template's table has the same keys).
 */
export async function createStateTable(dynamodb: DynamoDBClient, name: string): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
}
