// Log Analytics + workspace-based Application Insights, both with local (key) auth disabled:
// telemetry is accepted only with a Microsoft Entra token (Monitoring Metrics Publisher, see app/access.bicep).
@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Azure region of the monitoring resources.')
param location string

@description('Tags applied to the monitoring resources.')
param tags object

@description('Days Log Analytics keeps data. 30 is the free retention period.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output logAnalyticsId string = logAnalytics.id
output applicationInsightsName string = applicationInsights.name
// The connection string carries only the ingestion endpoint and instrumentation key (an identifier, not a credential:
// with DisableLocalAuth the endpoint rejects anything without an Entra token). It goes to the function app setting
// APPLICATIONINSIGHTS_CONNECTION_STRING only; main.bicep does not output it.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
