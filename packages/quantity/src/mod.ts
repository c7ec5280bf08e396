export {
  type BytesResult,
  compareQuantities,
  formatQuantity,
  MAX_EXPONENT,
  MAX_QUANTITY_LENGTH,
  type ParseResult,
  parseQuantity,
  type Quantity,
  quantitiesEqual,
  toBytes,
  toInteger,
} from "./quantity.ts";
