import { ApiProperty } from '@nestjs/swagger';
import { IsDate, IsNumber, IsString } from 'class-validator';
import { Type } from 'class-transformer';

export class Subscription {
  @ApiProperty()
  @IsString()
  username: string;

  @ApiProperty()
  @IsNumber()
  monthly_fee: number;

  @ApiProperty()
  @Type(() => Date)
  @IsDate()
  start_date: Date;
}
