// Azure Container Registry for the trainer image. azd builds the image inside the registry (remoteBuild), so operators
// need no local Docker. No admin user (Basic has no anonymous pull): the job pulls with its managed identity (AcrPull).
@description('Name of the container registry (5-50 alphanumerics).')
@minLength(5)
@maxLength(50)
param name string

@description('Azure region of the registry.')
param location string

@description('Tags applied to the registry.')
param tags object

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
